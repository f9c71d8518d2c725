# Executors cannot hold the server: an executor that catches the
# interruption of its timeout or of cancel_workflow (query_canceled) has
# its worker terminated after mycelium.terminate_grace, its attempt
# recorded as timed out or cancelled, its writes undone, while another
# role's workflow runs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('safety', "mycelium.terminate_grace = '1s'");
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
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.cancel_workflow('$cancel', 'stop')");
$node->poll_query_until('postgres', qq{
	SELECT status = 'cancelled' FROM mycelium.tasks WHERE workflow_id = '$cancel' AND task_id = 'c1'})
  or die 'c1 stays running';
my $cancel_s = time - $t0;
cmp_ok($cancel_s, '<', 30, "the stubborn task was ended after cancel_workflow ($cancel_s s)");
is(statuses($cancel), 'c1=cancelled,c2=cancelled', 'no task of the cancelled workflow is left running');
like($node->safe_psql('postgres', qq{
	SELECT error FROM mycelium.tasks WHERE workflow_id = '$cancel' AND task_id = 'c1'}),
	qr/did not stop within mycelium\.terminate_grace of cancel_workflow, so its worker was terminated/,
	'its error says it was terminated at cancel_workflow');
is($node->safe_psql('postgres', "SELECT count(*) FROM effects WHERE workflow_id = '$cancel'"),
	'0', 'its writes were undone');

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
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mycelium worker'}),
	'4', 'all four of them');

done_testing();
