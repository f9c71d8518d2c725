# Priority across the dispatch queue (issue 31): a worker takes at most
# 64 workflows off the queue in a step, so a high-priority workflow queued
# behind hundreds of low-priority ones with ready work must be taken ahead
# of them, not when the queue has turned to it.  Under a full pool
# (mycelium.max_workers = 2, both workers running a long task), 500
# workflows of priority 0 are started, each with one ready task, then one
# of priority 10: when the workers free, its task starts before all but a
# few of the 500 (a worker freeing at the same moment may take its first
# low one before the other took the high one).  And the workflows of an
# owner at its share of the pool (mycelium.max_workers_per_owner), high
# as their priority may be, do not keep the other owners' workflows
# queued behind them from the free worker (the queue's oldest entries are
# taken at every step too).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('queue_priority', 'mycelium.max_workers = 2',
	'mycelium.min_workers = 2');

sub sql { return $node->safe_psql('postgres', $_[0]); }

# starts $n workflows of alice named "$prefix<i>", of priority $prio, each
# with one task of $sleep seconds, in one transaction (pushed in order)
sub start_many
{
	my ($prefix, $n, $prio, $sleep) = @_;
	sql(qq{
		SET ROLE alice;
		SELECT count(mycelium.start_workflow(mycelium.create_workflow(
			jsonb_build_array(mycelium.task('t', 'a', 'test', input => '{"sleep": $sleep}')),
			name => '$prefix' || i, priority => $prio)))
		  FROM generate_series(1, $n) i;});
	return;
}

# fills the pool: both workers run a task of $sleep seconds
sub fill_pool
{
	my ($prefix, $sleep) = @_;
	start_many("${prefix}block", 2, 0, $sleep);
	ok($node->poll_query_until('postgres', qq{
		SELECT count(*) = 2 FROM mycelium.task_states t
		  JOIN mycelium.workflow_states w USING (workflow_id)
		 WHERE w.name LIKE '${prefix}block%' AND t.status = 'running'}),
		"$prefix: both workers run a long task");
	return;
}

# waits until every workflow named $prefix% has completed
sub wait_done
{
	my ($prefix) = @_;
	ok($node->poll_query_until('postgres', qq{
		SELECT bool_and(status = 'completed') FROM mycelium.workflow_states
		 WHERE name LIKE '$prefix%'}), "$prefix: every workflow completes");
	return;
}

# --- a high-priority workflow behind 500 low-priority ones
fill_pool('q_', 6);
start_many('q_low', 500, 0, 0);
start_many('q_high', 1, 10, 0);
is(sql(q{SELECT count(*) FROM public.effects e JOIN mycelium.workflow_states w
	USING (workflow_id) WHERE w.name LIKE 'q_%' AND w.name NOT LIKE 'q_block%'}), '0',
	'the queued workflows wait for a worker');
wait_done('q_');
my $before = sql(q{
	SELECT count(*) FROM public.effects e JOIN mycelium.workflow_states w USING (workflow_id)
	 WHERE w.name LIKE 'q_low%'
	   AND e.started < (SELECT e2.started FROM public.effects e2
						  JOIN mycelium.workflow_states w2 USING (workflow_id)
						 WHERE w2.name = 'q_high1')});
cmp_ok($before, '<=', 2,
	"the high-priority workflow queued behind 500 low ones starts before all but $before of them");

# --- an owner at its share of the pool does not stop the others' work
# queued behind its workflows, whatever their priority: with
# mycelium.max_workers_per_owner = 1 and alice's long task on one worker,
# the other worker passes over her 100 queued high-priority workflows
# (which go back to the queue with their rank) and runs bob's low one
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET mycelium.max_workers_per_owner = 1;
	SELECT pg_reload_conf();});
start_many('c_block', 1, 0, 6);
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM mycelium.task_states t
	  JOIN mycelium.workflow_states w USING (workflow_id)
	 WHERE w.name = 'c_block1' AND t.status = 'running'}),
	"alice's long task runs");
start_many('c_high', 100, 10, 0);
my $bob = sql(q{
	SET ROLE bob;
	SELECT mycelium.start_workflow(mycelium.create_workflow(
		jsonb_build_array(mycelium.task('t', 'a', 'test')), name => 'c_bob'));
	SELECT workflow_id FROM mycelium.workflow_states WHERE name = 'c_bob';}) =~ s/^.*\n//sr;
ok(wait_for_status($node, $bob, 'completed', 60), "bob's workflow completes");
is(sql(q{SELECT t.status FROM mycelium.task_states t JOIN mycelium.workflow_states w
	USING (workflow_id) WHERE w.name = 'c_block1'}), 'running',
	"bob's task ran while alice's long one still ran, past her 100 capped high-priority workflows");
wait_done('c_');

$node->stop;
done_testing();
