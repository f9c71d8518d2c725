# pause_workflow stops new starts and lets running tasks finish;
# resume_workflow goes on; cancel_workflow interrupts a running task and
# cancels the rest.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('control');

# a chain of three 1-second tasks; pause while the first runs
my $wf = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('p1', 'a', 'test', input => '{"sleep": 1}'),
		mycelium.task('p2', 'a', 'test', dependencies => '{p1}', input => '{"sleep": 0.2}'),
		mycelium.task('p3', 'a', 'test', dependencies => '{p2}')));});
$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$wf')");
$node->poll_query_until('postgres',
	"SELECT status = 'running' FROM mycelium.tasks WHERE workflow_id = '$wf' AND task_id = 'p1'")
  or die 'p1 did not start';
$node->safe_psql('postgres', "SELECT mycelium.pause_workflow('$wf')");
$node->poll_query_until('postgres',
	"SELECT status = 'completed' FROM mycelium.tasks WHERE workflow_id = '$wf' AND task_id = 'p1'")
  or die 'p1 did not finish';
sleep 2;
is($node->safe_psql('postgres', qq{
	SELECT string_agg(task_id || '=' || status, ',' ORDER BY task_id) FROM mycelium.tasks
	 WHERE workflow_id = '$wf'}),
	'p1=completed,p2=ready,p3=pending', 'the running task finished; nothing new started while paused');
is($node->safe_psql('postgres', "SELECT status FROM mycelium.workflows WHERE workflow_id = '$wf'"),
	'paused', 'the workflow is paused');
$node->safe_psql('postgres', "SELECT mycelium.resume_workflow('$wf')");
ok(wait_for_status($node, $wf, 'completed', 30), 'after resume it completes');

# cancel interrupts a running pg_sleep(60) and cancels what has not run
$wf = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('long', 'a', 'test', input => '{"sleep": 60}'),
		mycelium.task('later', 'a', 'test', dependencies => '{long}')));});
$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$wf')");
$node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'mycelium worker' AND query LIKE '%task "long"%'})
  or die 'long did not start';
my $t0 = time;
$node->safe_psql('postgres', "SELECT mycelium.cancel_workflow('$wf', 'no longer needed')");
is($node->safe_psql('postgres',
		"SELECT mycelium.wait_workflow('$wf', '10 s')->'tasks'->'long'->>'status'"),
	'cancelled', 'wait_workflow returns once the interrupted attempt is recorded');
ok(wait_for_status($node, $wf, 'cancelled', 10), 'the workflow is cancelled');
$node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity
	 WHERE backend_type = 'mycelium worker' AND query LIKE '%task "long"%' AND state = 'active'})
  or die 'long still runs';
cmp_ok(time - $t0, '<', 5, 'the running sleep was interrupted');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(task_id || '=' || status, ',' ORDER BY task_id) FROM mycelium.tasks
	 WHERE workflow_id = '$wf'}),
	'later=cancelled,long=cancelled', 'every unfinished task is cancelled');
is($node->safe_psql('postgres', "SELECT error FROM mycelium.workflows WHERE workflow_id = '$wf'"),
	'no longer needed', 'with the reason given');
is($node->safe_psql('postgres', "SELECT count(*) FROM effects WHERE workflow_id = '$wf'"),
	'0', 'the interrupted task left no effects');

# update_task completing a task of a running workflow hands its released
# dependents to the scheduler at once
$node->safe_psql('postgres', "SELECT mycelium.register_executor('outside', NULL)");
$wf = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('manual', 'a', 'outside'),
		mycelium.task('auto', 'a', 'test', dependencies => '{manual}')));});
$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$wf')");
$node->safe_psql('postgres', "SELECT mycelium.update_task('$wf', 'manual', 'completed', '{\"by\": \"hand\"}')");
$t0 = time;
ok(wait_for_status($node, $wf, 'completed', 10), 'the released task runs');
cmp_ok(time - $t0, '<', 1, 'without waiting for a rescan');

$node->stop;
done_testing();
