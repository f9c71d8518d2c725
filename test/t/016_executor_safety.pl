# Executors cannot hold the server: an executor that catches the
# interruption of its timeout or of cancel_workflow (query_canceled) has
# its worker terminated after mycelium.terminate_grace, its attempt
# recorded as timed out or cancelled, its writes undone, while another
# role's workflow runs.  A result or error over mycelium.max_payload_size
# and a ctx over mycelium.max_ctx_size fail the attempt (54000) and the
# worker goes on.  Nothing an attempt leaves in the worker's session
# (advisory locks, settings, prepared statements, temporary objects)
# reaches a later attempt of another role.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

# a pool of four that stays four: the test follows its workers by pid
my $node = mycelium_node('safety', "mycelium.terminate_grace = '1s'",
	"mycelium.max_workers = 4", "mycelium.min_workers = 4",
	"mycelium.worker_idle_timeout = '1h'");
$node->safe_psql('postgres', q{
	-- writes an effect, then sleeps for ever, ignoring every cancel
	CREATE FUNCTION public.stubborn(ctx jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO public.effects (workflow_id, task_id, attempt, who)
		VALUES ((ctx->>'workflow_id')::uuid, ctx->'task'->>'task_id',
				(ctx->>'attempt')::int, current_user);
		LOOP
			BEGIN
				PERFORM pg_sleep(0.05);
			EXCEPTION WHEN query_canceled THEN
				NULL;		-- and go on
			END;
		END LOOP;
	END $$;
	GRANT EXECUTE ON FUNCTION public.stubborn(jsonb) TO PUBLIC;
	SELECT mycelium.register_executor('stubborn', 'public.stubborn(jsonb)');
});

# tasks of workflow $wf as "id=status", in id order
sub statuses
{
	my ($wf) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(task_id || '=' || status, ',' ORDER BY task_id)
		  FROM mycelium.tasks WHERE workflow_id = '$wf'});
}

# --- at its timeout: four stubborn tasks (as many as workers) of alice's
# workflow, each with a timeout of 1 s and two attempts, and bob's workflow
# of quick tasks started while they hold every worker
my $stubborn = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('s1', 'a', 'stubborn', timeout => 1, max_attempts => 2, initial_delay => 0),
		mycelium.task('s2', 'a', 'stubborn', timeout => 1, max_attempts => 2, initial_delay => 0),
		mycelium.task('s3', 'a', 'stubborn', timeout => 1, max_attempts => 2, initial_delay => 0),
		mycelium.task('s4', 'a', 'stubborn', timeout => 1, max_attempts => 2, initial_delay => 0)),
		max_parallel_tasks => 4);});
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$stubborn')");
$node->poll_query_until('postgres', q{
	SELECT count(*) = 4 FROM pg_stat_activity
	 WHERE backend_type = 'mycelium worker' AND query LIKE '%task "s_"%'})
  or die 'the stubborn tasks did not start';
my $t0 = time;
my $quick = $node->safe_psql('postgres', q{
	SET ROLE bob;
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('q1', 'b', 'test'),
		mycelium.task('q2', 'b', 'test', dependencies => '{q1}')));});
$node->safe_psql('postgres', "SET ROLE bob; SELECT mycelium.start_workflow('$quick')");
ok(wait_for_status($node, $quick, 'completed', 60), "bob's workflow completes while alice's tasks will not stop");
my $quick_s = time - $t0;
cmp_ok($quick_s, '<', 30, "bob's workflow did not wait for ever ($quick_s s)");
ok(wait_for_status($node, $stubborn, 'failed', 60), "alice's workflow fails: its tasks timed out twice");
# the tasks still running when it failed are interrupted, and the watchdog
# ends those that do not stop within mycelium.terminate_grace
$node->poll_query_until('postgres', qq{
	SELECT count(*) = 0 FROM mycelium.tasks WHERE workflow_id = '$stubborn' AND status = 'running'})
  or diag 'tasks of the failed workflow still running';
like(statuses($stubborn), qr/^s1=(failed|cancelled),s2=(failed|cancelled),s3=(failed|cancelled),s4=(failed|cancelled)$/,
	'no task is left running (one failed, and the workflow with it)');
is($node->safe_psql('postgres', qq{
	SELECT count(DISTINCT task_id) FROM mycelium.workflow_history('$stubborn')
	 WHERE status = 'ready' AND attempt = 1
	   AND error = 'task timed out after 1 s; the executor did not stop within mycelium.terminate_grace, so its worker was terminated'}),
	'4', 'the first attempt of each task is recorded as timed out, its worker terminated');
is($node->safe_psql('postgres', qq{
	SELECT count(*) > 0 FROM mycelium.workflow_history('$stubborn') WHERE event = 'timed out'}),
	't', 'a task out of attempts failed with the event "timed out"');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM mycelium.workflow_history('$stubborn') WHERE error LIKE '%was lost%'}),
	'0', 'no attempt is recorded as lost');
is($node->safe_psql('postgres', "SELECT count(*) FROM effects WHERE workflow_id = '$stubborn'"),
	'0', 'the terminated attempts left no effects');
ok($node->log_contains(qr/terminating mycelium worker process \d+: attempt 1 of task \d+ of workflow $stubborn did not stop within 1000 ms after its timeout/),
	'the log says which worker was terminated and why');

# --- at cancel_workflow: a stubborn task with no timeout
my $cancel = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('c1', 'a', 'stubborn'),
		mycelium.task('c2', 'a', 'test', dependencies => '{c1}')));});
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$cancel')");
$node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'mycelium worker' AND query LIKE '%task "c1"%'})
  or die 'c1 did not start';
$t0 = time;
# the workflow, and how many of its tasks run, as one snapshot sees them
sub status_running
{
	my ($wf) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT w.status || '/' || (SELECT count(*) FROM mycelium.tasks t
		  WHERE t.workflow_id = w.workflow_id AND t.status = 'running')
		  FROM mycelium.workflows w WHERE w.workflow_id = '$wf'});
}
# whether some finished workflow still has a running task
my $finished_running = q{
	SELECT count(*) FROM mycelium.workflows w
	 WHERE w.status IN ('completed', 'failed', 'cancelled')
	   AND EXISTS (SELECT 1 FROM mycelium.tasks t
				   WHERE t.workflow_id = w.workflow_id AND t.status = 'running')};
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.cancel_workflow('$cancel', 'stop')");
is(status_running($cancel), 'cancelling/1',
	'cancelled while its stubborn task runs, the workflow is cancelling, not cancelled');
my $seen_finished_running = 0;
# waits for the workflow's status, checking at each look that no
# finished workflow has a running task
sub wait_watching
{
	my ($wf, $status) = @_;
	my $deadline = time + 60;
	while (time < $deadline)
	{
		my ($now, $bad) = split /\|/, $node->safe_psql('postgres', qq{
			SELECT (SELECT status FROM mycelium.workflows WHERE workflow_id = '$wf')
			  || '|' || ($finished_running)});
		$seen_finished_running += $bad;
		return 1 if $now eq $status;
		usleep(20_000);
	}
	return 0;
}
wait_watching($cancel, 'cancelled') or die 'the workflow stays cancelling';
is(status_running($cancel), 'cancelled/0', 'once the stubborn task is ended, the workflow is cancelled');
my $cancel_s = time - $t0;
cmp_ok($cancel_s, '<', 30, "the stubborn task was ended after cancel_workflow ($cancel_s s)");
is(statuses($cancel), 'c1=cancelled,c2=cancelled', 'no task of the cancelled workflow is left running');
like($node->safe_psql('postgres', qq{
	SELECT error FROM mycelium.tasks WHERE workflow_id = '$cancel' AND task_id = 'c1'}),
	qr/did not stop within mycelium\.terminate_grace of cancel_workflow, so its worker was terminated/,
	'its error says it was terminated at cancel_workflow');
is($node->safe_psql('postgres', "SELECT count(*) FROM effects WHERE workflow_id = '$cancel'"),
	'0', 'its writes were undone');

# --- a task fails for good while a stubborn task of its workflow runs:
# the workflow is failing until the stubborn task is ended, then failed
$node->safe_psql('postgres', "SELECT mycelium.register_executor('ext016', NULL)");
my $failing = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('f1', 'a', 'stubborn'),
		mycelium.task('f2', 'a', 'ext016', max_attempts => 1)));});
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$failing')");
$node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'mycelium worker' AND query LIKE '%task "f1"%'})
  or die 'f1 did not start';
$node->safe_psql('postgres', qq{
	SET ROLE alice;
	SELECT mycelium.fail_task(workflow_id, task_id, 'agent-016', 'no')
	  FROM mycelium.claim_tasks('ext016', 'agent-016')});
is(status_running($failing), 'failing/1',
	'failed by a task while its stubborn task runs, the workflow is failing, not failed');
wait_watching($failing, 'failed') or die 'the workflow stays failing';
is(status_running($failing), 'failed/0', 'once the stubborn task is ended, the workflow is failed');
is(statuses($failing), 'f1=cancelled,f2=failed', 'its stubborn task was cancelled');
like($node->safe_psql('postgres', qq{
	SELECT error FROM mycelium.workflows WHERE workflow_id = '$failing'}),
	qr/task "f2" failed/, 'the workflow keeps the error it failed with');
is($seen_finished_running, 0, 'no finished workflow ever had a running task');

# the workers came back and serve everyone
my $after = $node->safe_psql('postgres', q{
	SET ROLE bob;
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('x1', 'b', 'test', input => '{"sleep": 0.3}'),
		mycelium.task('x2', 'b', 'test', input => '{"sleep": 0.3}'),
		mycelium.task('x3', 'b', 'test', input => '{"sleep": 0.3}'),
		mycelium.task('x4', 'b', 'test', input => '{"sleep": 0.3}')));});
$node->safe_psql('postgres', "SET ROLE bob; SELECT mycelium.start_workflow('$after')");
ok(wait_for_status($node, $after, 'completed', 60), 'the workers are back');
# (a worker that has just left its slot may still be listed for a moment)
ok($node->poll_query_until('postgres', q{
	SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mycelium worker'}, '4'),
	'all four of them');


# --- bounds: a result or an error over mycelium.max_payload_size, a ctx
# over mycelium.max_ctx_size
$node->safe_psql('postgres', q{
	-- input {"result_kb": n} returns n kB; {"error_kb": n} raises an error of n kB
	CREATE FUNCTION public.big(ctx jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO public.effects (workflow_id, task_id, attempt, who)
		VALUES ((ctx->>'workflow_id')::uuid, ctx->'task'->>'task_id',
				(ctx->>'attempt')::int, current_user);
		IF ctx->'task'->'input' ? 'error_kb' THEN
			RAISE EXCEPTION '%', repeat('e', 1024 * (ctx->'task'->'input'->>'error_kb')::int);
		END IF;
		RETURN jsonb_build_object('pad', repeat('r', 1024 * coalesce((ctx->'task'->'input'->>'result_kb')::int, 0)));
	END $$;
	GRANT EXECUTE ON FUNCTION public.big(jsonb) TO PUBLIC;
	SELECT mycelium.register_executor('big', 'public.big(jsonb)');
	ALTER SYSTEM SET mycelium.max_ctx_size = '100kB';
	SELECT pg_reload_conf();
});
my $pids = q{SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity
	WHERE backend_type = 'mycelium worker'};
my $pids_before = $node->safe_psql('postgres', $pids);
my $big = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('result', 'a', 'big', input => '{"result_kb": 1100}', allow_failure => true),
		mycelium.task('error', 'a', 'big', input => '{"error_kb": 2048}', allow_failure => true),
		mycelium.task('d1', 'a', 'big', input => '{"result_kb": 60}'),
		mycelium.task('d2', 'a', 'big', input => '{"result_kb": 60}'),
		mycelium.task('ctx', 'a', 'big', dependencies => '{d1,d2}', allow_failure => true),
		mycelium.task('after', 'a', 'big', dependencies => '{result,error,ctx}')));});
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$big')");
ok(wait_for_status($node, $big, 'completed', 60), 'a workflow with attempts over the bounds goes on');
is(statuses($big), 'after=completed,ctx=failed,d1=completed,d2=completed,error=failed,result=failed',
	'the attempts over the bounds failed, the others completed');
like($node->safe_psql('postgres', qq{
	SELECT error FROM mycelium.tasks WHERE workflow_id = '$big' AND task_id = 'result'}),
	qr/^result of task "result" is too large \(It takes \d+ bytes; mycelium\.max_payload_size is 1024 kB\.\)$/,
	'a result over max_payload_size fails its attempt');
my $error = $node->safe_psql('postgres', qq{
	SELECT error FROM mycelium.tasks WHERE workflow_id = '$big' AND task_id = 'error'});
like($error, qr/^error of the attempt is too large \(54000\): it takes 2097152 bytes; mycelium\.max_payload_size is 1024 kB; it began: e{1000}$/,
	'an error over max_payload_size is not stored, but said to be too large');
like($node->safe_psql('postgres', qq{
	SELECT error FROM mycelium.tasks WHERE workflow_id = '$big' AND task_id = 'ctx'}),
	qr/^execution context \(ctx\) of task "ctx" is too large: its parts take \d+ bytes; mycelium\.max_ctx_size is 100 kB$/,
	'a ctx over max_ctx_size fails the attempt');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(task_id, ',' ORDER BY task_id) FROM effects WHERE workflow_id = '$big'}),
	'after,d1,d2', 'the failed attempts left no effects');
is($node->safe_psql('postgres', $pids), $pids_before, 'no worker stopped');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM mycelium.workflow_history('$big') WHERE error LIKE '%was lost%'}),
	'0', 'no attempt was lost');

# --- what an attempt leaves in the session: one worker, so every attempt
# runs in the same session
my $one = mycelium_node('session', 'mycelium.max_workers = 1');
$one->safe_psql('postgres', q{
	-- leaves what it can in the session; input {"fail": true} fails after
	CREATE FUNCTION public.leaver(ctx jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		done jsonb := '{}';
	BEGIN
		PERFORM pg_advisory_lock(77, 1);
		done := done || '{"advisory_lock": true}';
		SET work_mem = '77MB';
		PERFORM set_config('leak.note', 'left by ' || current_user, false);
		done := done || '{"settings": true}';
		BEGIN
			EXECUTE 'PREPARE leak_stmt AS SELECT 1';
			done := done || '{"prepared": true}';
		EXCEPTION WHEN OTHERS THEN
			done := done || jsonb_build_object('prepared', SQLERRM);
		END;
		BEGIN
			CREATE FUNCTION pg_temp.leak() RETURNS int LANGUAGE sql AS 'SELECT 1';
			done := done || '{"temp_function": true}';
		EXCEPTION WHEN OTHERS THEN
			done := done || jsonb_build_object('temp_function', SQLERRM);
		END;
		BEGIN
			LISTEN leak_channel;
			done := done || '{"listen": true}';
		EXCEPTION WHEN OTHERS THEN
			done := done || jsonb_build_object('listen', SQLERRM);
		END;
		IF (ctx->'task'->'input'->>'fail')::bool THEN
			RAISE EXCEPTION 'failing after: %', done;
		END IF;
		RETURN done;
	END $$;
	-- what a later attempt finds in the session
	CREATE FUNCTION public.finder(ctx jsonb) RETURNS jsonb
	LANGUAGE sql AS $$
	SELECT jsonb_build_object(
		'advisory_locks', (SELECT count(*) FROM pg_locks
							WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
		'work_mem', current_setting('work_mem'),
		'note', coalesce(current_setting('leak.note', true), ''),
		'prepared', (SELECT count(*) FROM pg_prepared_statements),
		'temp_functions', (SELECT count(*) FROM pg_proc WHERE pronamespace = pg_my_temp_schema()),
		'listening', (SELECT count(*) FROM pg_listening_channels()),
		'pid', pg_backend_pid())
	$$;
	GRANT EXECUTE ON FUNCTION public.leaver(jsonb), public.finder(jsonb) TO PUBLIC;
	SELECT mycelium.register_executor('leaver', 'public.leaver(jsonb)');
	SELECT mycelium.register_executor('finder', 'public.finder(jsonb)');
});
my $clean = '"note": "", "prepared": 0, "work_mem": "4MB", "listening": 0, "advisory_locks": 0, "temp_functions": 0';
for my $fail ('false', 'true')
{
	my $leave = $one->safe_psql('postgres', qq{
		SET ROLE alice;
		SELECT mycelium.create_workflow(jsonb_build_array(
			mycelium.task('leave', 'a', 'leaver', input => '{"fail": $fail}')));});
	$one->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$leave')");
	ok(wait_for_status($one, $leave, $fail eq 'true' ? 'failed' : 'completed', 60),
		"alice's task ran (failing: $fail)");
	like($one->safe_psql('postgres', qq{
		SELECT coalesce(result::text, error) FROM mycelium.tasks WHERE workflow_id = '$leave'}),
		qr/"settings": true.*"advisory_lock": true|"advisory_lock": true.*"settings": true/,
		'it took an advisory lock and changed settings (temporary objects, PREPARE and LISTEN are refused to executors)');
	my $find = $one->safe_psql('postgres', q{
		SET ROLE bob;
		SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('find', 'b', 'finder')));});
	$one->safe_psql('postgres', "SET ROLE bob; SELECT mycelium.start_workflow('$find')");
	ok(wait_for_status($one, $find, 'completed', 60), "bob's task ran after it");
	is($one->safe_psql('postgres', qq{
		SELECT result - 'pid' FROM mycelium.tasks WHERE workflow_id = '$find'}),
		"{$clean}", "bob's task, in the same session, finds none of it (alice's failing: $fail)");
}

# --- the other tasks a terminated worker had claimed go back uncounted:
# the one worker, used to quick tasks, claims a stubborn task and two
# quick ones behind it in one batch
$one->safe_psql('postgres', q{
	CREATE FUNCTION public.stubborn(ctx jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	BEGIN
		LOOP
			BEGIN
				PERFORM pg_sleep(0.05);
			EXCEPTION WHEN query_canceled THEN
				NULL;
			END;
		END LOOP;
	END $$;
	GRANT EXECUTE ON FUNCTION public.stubborn(jsonb) TO PUBLIC;
	SELECT mycelium.register_executor('stubborn', 'public.stubborn(jsonb)');
	ALTER SYSTEM SET mycelium.terminate_grace = '1s';
	SELECT pg_reload_conf();
});
my $warm = $one->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(
		(SELECT jsonb_agg(mycelium.task('w' || i, 'a', 'finder')) FROM generate_series(1, 20) i))});
$one->safe_psql('postgres', "SELECT mycelium.start_workflow('$warm')");
ok(wait_for_status($one, $warm, 'completed', 60), 'the worker ran quick tasks');
my $batch = $one->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('s', 'a', 'stubborn', timeout => 1, max_attempts => 1, allow_failure => true),
		mycelium.task('q1', 'a', 'finder'),
		mycelium.task('q2', 'a', 'finder')))});
$one->safe_psql('postgres', "SELECT mycelium.start_workflow('$batch')");
ok(wait_for_status($one, $batch, 'completed', 60), 'the workflow goes on after its worker was terminated');
is($one->safe_psql('postgres', qq{
	SELECT string_agg(task_id || '=' || status || '/' || attempt, ',' ORDER BY task_id)
	  FROM mycelium.tasks WHERE workflow_id = '$batch'}),
	'q1=completed/1,q2=completed/1,s=failed/1',
	'the stubborn task timed out; the quick ones completed at their first counted attempt');
is($one->safe_psql('postgres', qq{
	SELECT string_agg(DISTINCT task_id, ',') FROM mycelium.workflow_history('$batch')
	 WHERE event = 'handed back: its worker was terminated'}),
	'q1,q2', 'they were handed back, uncounted, when the worker was terminated');

done_testing();
