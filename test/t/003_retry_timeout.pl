# Retries follow the policy's back-off and keep the error; a task out of
# attempts fails its workflow; allow_failure lets a workflow go on; a
# timeout interrupts a running function.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('retry');

# fails twice, succeeds on attempt 3; back-off 0.5 s then 1.0 s
my $wf = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('flaky', 'a', 'test', initial_delay => 0.5, exponential_base => 2,
					  input => '{"fail_times": 2}')));});
$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$wf')");
ok(wait_for_status($node, $wf, 'completed', 30), 'flaky task completes');
is($node->safe_psql('postgres', "SELECT attempt FROM mycelium.tasks WHERE workflow_id = '$wf'"),
	'3', 'on attempt 3');
is($node->safe_psql('postgres', "SELECT count(*) FROM effects WHERE workflow_id = '$wf'"),
	'1', 'failed attempts left no effects');
my $gaps = $node->safe_psql('postgres', qq{
	SELECT string_agg(round(extract(epoch FROM changed_at - prev)::numeric, 2)::text, ',')
	  FROM (SELECT changed_at, lag(changed_at) OVER (ORDER BY version) AS prev, event
			  FROM mycelium.workflow_history('$wf') WHERE task_id = 'flaky') h
	 WHERE event = 'dispatched' AND prev IS NOT NULL});
my @gaps = split /,/, $gaps;
is(scalar(@gaps), 2, 'two retries');
cmp_ok($gaps[0], '>=', 0.5, 'first back-off at least initial_delay');
cmp_ok($gaps[0], '<', 0.5 + 0.4, 'first back-off close to initial_delay');
cmp_ok($gaps[1], '>=', 1.0, 'second back-off at least initial_delay * base');
cmp_ok($gaps[1], '<', 1.0 + 0.4, 'second back-off close to initial_delay * base');
like($node->safe_psql('postgres', qq{
	SELECT string_agg(error, ',' ORDER BY version) FROM mycelium.workflow_history('$wf')
	 WHERE task_id = 'flaky' AND status = 'ready'}),
	qr/planned failure of attempt 1,planned failure of attempt 2/, 'each failed attempt keeps its error');

# out of attempts: the workflow fails and keeps the error; execute_workflow
# raises MY002 naming the task
$wf = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('doomed', 'a', 'test', max_attempts => 2, initial_delay => 0.1,
					  input => '{"fail_times": 9}'),
		mycelium.task('after', 'a', 'test', dependencies => '{doomed}')));});
my ($ret, $out, $err) = $node->psql('postgres',
	"SELECT mycelium.execute_workflow('$wf', '30 s')", extra_params => ['-v', 'VERBOSITY=verbose']);
like($err, qr/MY002: workflow $wf failed/, 'execute_workflow raises MY002');
like($err, qr/Failed tasks: doomed \(planned failure of attempt 2\)/, 'naming the failed task and its error');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(task_id || '=' || status || '/' || attempt, ',' ORDER BY task_id)
	  FROM mycelium.tasks WHERE workflow_id = '$wf'}),
	'after=skipped/0,doomed=failed/2', 'the rest is skipped');

# allow_failure: the workflow goes on
$wf = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('optional', 'a', 'test', max_attempts => 1, allow_failure => true,
					  input => '{"fail_times": 1}'),
		mycelium.task('next', 'a', 'test', dependencies => '{optional}')));});
is($node->safe_psql('postgres', "SELECT mycelium.execute_workflow('$wf', '30 s')->>'status'"),
	'completed', 'a failed allow_failure task does not fail the workflow');
is($node->safe_psql('postgres', qq{
	SELECT p->>'status' FROM effects, jsonb_array_elements(previous) p
	 WHERE workflow_id = '$wf' AND task_id = 'next'}),
	'failed', 'its dependent ran and saw it failed');

# timeout: pg_sleep(60) with timeout = 1 is interrupted
$wf = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('sleepy', 'a', 'test', max_attempts => 1, timeout => 1,
					  input => '{"sleep": 60}')));});
my $t0 = time;
$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$wf')");
ok(wait_for_status($node, $wf, 'failed', 30), 'the timed-out workflow fails');
cmp_ok(time - $t0, '<', 5, 'within a few seconds, not 60');
is($node->safe_psql('postgres', "SELECT error FROM mycelium.tasks WHERE workflow_id = '$wf'"),
	'task timed out after 1 s', 'the error says it timed out');

$node->stop;
done_testing();
