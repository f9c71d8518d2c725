# Ending a large workflow is linear in its tasks, whatever the statistics:
# cancel_workflow on a 100,000-task workflow right after task_states was
# analyzed while nearly empty takes about as long as on fresh statistics.
# (The statement that ends a workflow's open tasks runs as a kept generic
# plan; planned on a young table's statistics it was a nested loop
# rescanning all the workflow's tasks for each open task: minutes.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

# no autovacuum: the statistics stay what the test makes them
my $node = mycelium_node('large', 'autovacuum = off');
$node->safe_psql('postgres', "SELECT mycelium.register_executor('outside', NULL)");

my $n = 100_000;

# a started workflow of $n tasks served by external agents (none come)
sub large_workflow
{
	my $wf = $node->safe_psql('postgres', qq{
		SELECT mycelium.create_workflow(
			(SELECT jsonb_agg(mycelium.task('t' || i, 'a', 'outside'))
			   FROM generate_series(1, $n) i))});
	$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$wf')");
	return $wf;
}

# cancels $wf in a new session (so its statements are planned afresh, on
# the statistics as they are); returns the seconds it took
sub timed_cancel
{
	my ($wf) = @_;
	my $t0 = time;
	$node->safe_psql('postgres', "SELECT mycelium.cancel_workflow('$wf', 'enough')");
	my $s = time - $t0;
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FILTER (WHERE status = 'cancelled') || '/' || count(*)
		  FROM mycelium.task_states WHERE workflow_id = '$wf'}),
		"$n/$n", 'every task of the workflow is cancelled');
	return $s;
}

# statistics taken while task_states holds two tasks
my $small = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('a', 'a', 'outside'), mycelium.task('b', 'a', 'outside')))});
$node->safe_psql('postgres', 'ANALYZE mycelium.task_states');
my $stale = timed_cancel(large_workflow());

# fresh statistics
$node->safe_psql('postgres', 'ANALYZE mycelium.task_states');
my $fresh = timed_cancel(large_workflow());

note(sprintf('cancel_workflow of %d tasks: %.2f s on stale statistics, %.2f s on fresh ones',
	$n, $stale, $fresh));
cmp_ok($stale, '<', 10 * $fresh + 5,
	'on statistics of a nearly empty table it takes about as long as on fresh ones');
cmp_ok($stale, '<', 60, 'and well under a minute');

done_testing();
