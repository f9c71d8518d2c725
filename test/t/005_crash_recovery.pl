# Exactly-once effects across a crash: kill -9 the postmaster in the middle
# of a 1,000-task workflow, restart; the workflow completes by itself and
# every task's effect exists exactly once.  Interrupted attempts count.
# A restart with fewer workers: the attempts left running are counted as
# lost and retried too; so is the attempt of a worker that exits.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('crash', 'mycelium.batch_size = 16');

my $wf = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(
		(SELECT jsonb_agg(mycelium.task('t' || i, 'a', 'test', initial_delay => 0.1,
				input => '{"sleep": 0.005}'))
		   FROM generate_series(1, 1000) i), max_parallel_tasks => 1000);});
$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$wf')");
$node->poll_query_until('postgres', 'SELECT count(*) > 200 FROM effects')
  or die 'the workflow did not get going';

# kill -9 of the postmaster, in the middle of the run
my $done = $node->safe_psql('postgres', 'SELECT count(*) FROM effects');
cmp_ok($done, '<', 1000, "killed in the middle ($done of 1000 done)");
$node->kill9;
# the old server's children notice the postmaster is gone and exit; until
# they have, a new postmaster refuses to start
my $started = 0;
for (1 .. 60)
{
	# forget the dead postmaster's pid, which a failed start reads back
	undef $node->{_pid};
	last if ($started = $node->start(fail_ok => 1));
	sleep 1;
}
ok($started, 'the server restarts after kill -9 of the postmaster');

ok(wait_for_status($node, $wf, 'completed', 180), 'the workflow completes after the restart');
is($node->safe_psql('postgres', 'SELECT count(*), count(DISTINCT task_id) FROM effects'),
	'1000|1000', 'every task took effect exactly once');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM mycelium.tasks WHERE workflow_id = '$wf' AND status <> 'completed'}),
	'0', 'every task is completed');
cmp_ok($node->safe_psql('postgres', qq{
	SELECT count(*) FROM mycelium.workflow_history('$wf') WHERE error LIKE '%was lost%'}),
	'>', 0, 'attempts interrupted by the crash were counted as lost');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM (SELECT version, lag(version) OVER (ORDER BY version) AS prev
		FROM (SELECT DISTINCT version FROM mycelium.workflow_history('$wf')) v) g
	 WHERE prev IS NOT NULL AND version <> prev + 1}),
	'0', 'versions stay consecutive');

# 4 tasks that sleep through their first attempt, one per worker; then a
# restart with one worker: the launcher counts every attempt left running
# by a worker as lost, whether or not a worker of that name runs again
$node->safe_psql('postgres', q{
	CREATE FUNCTION public.sleep_first(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
	BEGIN
		IF (ctx->>'attempt')::int = 1 THEN
			PERFORM pg_sleep(300);
		END IF;
		RETURN '{}';
	END $$;
	SELECT mycelium.register_executor('sleep_first', 'public.sleep_first(jsonb)');});
my $four = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(
		(SELECT jsonb_agg(mycelium.task('s' || i, 'a', 'sleep_first', initial_delay => 0.1))
		   FROM generate_series(1, 4) i));});
$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$four')");
$node->poll_query_until('postgres', qq{
	SELECT count(*) = 4 FROM mycelium.task_states
	 WHERE workflow_id = '$four' AND status = 'running'})
  or die 'the sleeping tasks did not start';
is($node->safe_psql('postgres', qq{
	SELECT count(DISTINCT worker_id) FROM mycelium.task_states WHERE workflow_id = '$four'}),
	'4', 'the pool grew to run the 4 sleeping tasks on 4 workers');
$node->append_conf('postgresql.conf', 'mycelium.max_workers = 1');
$node->restart;
ok(wait_for_status($node, $four, 'completed', 60),
	'after a restart with one worker, the workflow completes');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM mycelium.workflow_history('$four')
	 WHERE error LIKE '%was lost: its worker stopped%'}),
	'4', 'the attempts left running were counted as lost');

# a worker that exits with an error is not started again in its place:
# the launcher counts its attempt as lost at once, and the task is
# retried by another worker (here a new one in the same slot)
my $stuck = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(
		jsonb_build_array(mycelium.task('s', 'a', 'sleep_first', initial_delay => 0.1)));});
$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$stuck')");
$node->poll_query_until('postgres', qq{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'mycelium worker' AND query LIKE 'mycelium: workflow $stuck %'})
  or die 'the sleeping task did not start';
my $pid = $node->safe_psql('postgres', qq{
	SELECT pid FROM pg_stat_activity
	 WHERE backend_type = 'mycelium worker' AND query LIKE 'mycelium: workflow $stuck %'});
# SIGTERM: the worker exits (FATAL, code 1); the postmaster does not restart it
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok(wait_for_status($node, $stuck, 'completed', 60),
	'the attempt of a worker that exited is recovered and retried');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM mycelium.workflow_history('$stuck')
	 WHERE error = 'attempt 1 was lost: its worker stopped'}),
	'1', 'its attempt was counted as lost');
ok($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mycelium worker'}) <= 1,
	'never more workers than mycelium.max_workers');

$node->stop;
done_testing();
