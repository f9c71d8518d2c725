# Execution times of the attempts that end without a result of their
# executor: each has its time (ms) in the timeline and as the task's
# execution_time.  A timeout and a cancel_workflow that the executor
# obeys are timed by the worker (from the executor's start); an attempt
# whose worker the watchdog terminated (at its timeout, or at
# cancel_workflow) and one lost in a crash count from the claim until the
# attempt was taken back, so at least as long as the test waited.
# (External agents: sql/execution_times.sql; a lapsed lease:
# test/t/018_structured_errors.pl.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('times', "mycelium.terminate_grace = '1s'");
$node->safe_psql('postgres', q{
	-- sleeps for ever, ignoring every cancel (as in test 016)
	CREATE FUNCTION public.stubborn(ctx jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	BEGIN
		LOOP
			BEGIN
				PERFORM pg_sleep(0.05);
			EXCEPTION WHEN query_canceled THEN
				NULL;		-- and go on
			END;
		END LOOP;
	END $$;
	SELECT mycelium.register_executor('stubborn', 'public.stubborn(jsonb)');
});

sub sql { return $node->safe_psql('postgres', $_[0]); }

# the attempts of task $task of $wf in the timeline, "attempt:outcome:type:ms"
sub attempts
{
	my ($wf, $task) = @_;
	return sql(qq{SELECT string_agg(attempt || ':' || outcome || ':'
		|| coalesce(error_detail->>'error_type', '-') || ':'
		|| coalesce(round(execution_time)::text, 'none'), ',' ORDER BY started_at)
		FROM mycelium.workflow_timeline('$wf') WHERE task_id = '$task'});
}

# the execution time of the single attempt of task $task of $wf, from the
# timeline, after checking that the task's execution_time is the same
sub attempt_ms
{
	my ($wf, $task) = @_;
	is(sql(qq{SELECT t.execution_time = l.execution_time
		FROM mycelium.tasks t, mycelium.workflow_timeline('$wf') l
		WHERE t.workflow_id = '$wf' AND t.task_id = '$task' AND l.task_id = '$task'}),
		't', "task $task: its execution_time is its attempt's");
	return sql(qq{SELECT coalesce(execution_time, -1) FROM mycelium.workflow_timeline('$wf')
		WHERE task_id = '$task'});
}

# wait until the worker runs the executor of task $task
sub wait_running
{
	my ($task) = @_;
	$node->poll_query_until('postgres', qq{
		SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE backend_type = 'mycelium worker' AND query LIKE '%task "$task"%'})
	  or die "$task did not start";
}

# --- a timeout the executor obeys: timed by the worker
my $wf = sql(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('slow', 'a', 'test', input => '{"sleep": 30}', timeout => 0.5, max_attempts => 1)))});
sql("SELECT mycelium.start_workflow('$wf')");
ok(wait_for_status($node, $wf, 'failed', 60), 'the timed-out task fails its workflow');
like(attempts($wf, 'slow'), qr/^1:failed:timeout:\d+$/, 'the timed-out attempt is in the timeline with its time');
cmp_ok(attempt_ms($wf, 'slow'), '>=', 450, 'it ran about its timeout');

# --- cancel_workflow the executor obeys: timed by the worker
$wf = sql(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('long', 'a', 'test', input => '{"sleep": 30}')))});
sql("SELECT mycelium.start_workflow('$wf')");
wait_running('long');
usleep(500_000);
sql("SELECT mycelium.cancel_workflow('$wf', 'enough')");
$node->poll_query_until('postgres', qq{
	SELECT status = 'cancelled' FROM mycelium.tasks WHERE workflow_id = '$wf' AND task_id = 'long'})
  or die 'the cancelled task stays running';
like(attempts($wf, 'long'), qr/^1:cancelled:cancelled:\d+$/, 'the cancelled attempt has its time');
cmp_ok(attempt_ms($wf, 'long'), '>=', 500, 'it ran until cancel_workflow');

# --- the watchdog: a stubborn task terminated at its timeout (0.5 s, then
# 1 s of grace): from its claim until it was taken back, at least 1.5 s
$wf = sql(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('s', 'a', 'stubborn', timeout => 0.5, max_attempts => 1)))});
sql("SELECT mycelium.start_workflow('$wf')");
ok(wait_for_status($node, $wf, 'failed', 60), 'the stubborn timed-out task fails its workflow');
like(attempts($wf, 's'), qr/^1:failed:timeout:\d+$/, 'the terminated attempt is timed out, with its time');
cmp_ok(attempt_ms($wf, 's'), '>=', 1500, 'it ran past its timeout and the grace');

# --- the watchdog at cancel_workflow: at least the 0.5 s before the cancel
# and the 1 s of grace
$wf = sql(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('c', 'a', 'stubborn')))});
sql("SELECT mycelium.start_workflow('$wf')");
wait_running('c');
usleep(500_000);
sql("SELECT mycelium.cancel_workflow('$wf', 'stop')");
$node->poll_query_until('postgres', qq{
	SELECT status = 'cancelled' FROM mycelium.tasks WHERE workflow_id = '$wf' AND task_id = 'c'})
  or die 'the stubborn task stays running';
like(attempts($wf, 'c'), qr/^1:cancelled:cancelled:\d+$/, 'the terminated attempt is cancelled, with its time');
cmp_ok(attempt_ms($wf, 'c'), '>=', 1500, 'it ran until it was terminated after the grace');

# --- a crash: the attempt is lost, from its claim until the restarted
# launcher took it back
$wf = sql(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('lost', 'a', 'test', input => '{"sleep": 60}', max_attempts => 1)))});
sql("SELECT mycelium.start_workflow('$wf')");
wait_running('lost');
usleep(500_000);
$node->stop('immediate');
$node->start;
ok(wait_for_status($node, $wf, 'failed', 60), 'the lost attempt fails its workflow after the restart');
like(attempts($wf, 'lost'), qr/^1:failed:lost:\d+$/, 'the lost attempt has its time');
cmp_ok(attempt_ms($wf, 'lost'), '>=', 500, 'it ran from its claim until it was taken back');

done_testing();
