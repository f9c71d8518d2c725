# Priorities through the scheduler's workers and claim_tasks: under a full
# pool (mycelium.max_workers = 2, both workers busy with long low-priority
# tasks, several low-priority workflows queued), a high-priority workflow
# started last starts first when a worker frees, after only a task with a
# priority of its own above it (the task-level override), and the queued
# low ones follow in the order they were started; without priorities the
# same load starts first come, first served.  The starvation bound, with
# mycelium.priority_aging = 1s: a task of priority 5 started just after
# one of priority 0 is claimed first, but one that became ready more than
# 5 s after it is not (test both through claim_tasks, whose order is the
# rank's exactly).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('priorities', 'mycelium.max_workers = 2',
	'mycelium.min_workers = 2');

# creates and starts a workflow of alice named $name, of priority $prio,
# with tasks ($id, $sleep, $own priority or undef)
sub start_wf
{
	my ($name, $prio, @tasks) = @_;
	my $defs = join(', ', map {
		my ($id, $sleep, $own) = @$_;
		"mycelium.task('$id', 'a', 'test', input => '{\"sleep\": $sleep}'"
		  . (defined $own ? ", priority => $own" : '') . ')'
	} @tasks);
	return $node->safe_psql('postgres', qq{
		SET ROLE alice;
		SELECT mycelium.create_workflow(jsonb_build_array($defs),
			name => '$name', priority => $prio);
		SELECT mycelium.start_workflow(workflow_id) FROM mycelium.workflow_states
		 WHERE name = '$name';}) =~ s/\n.*//sr;
}

# the order the named workflows' tasks started in
sub start_order
{
	my ($prefix) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(w.name || ':' || e.task_id, ' ' ORDER BY e.started)
		  FROM public.effects e JOIN mycelium.workflow_states w USING (workflow_id)
		 WHERE w.name LIKE '$prefix%' AND w.name NOT LIKE '${prefix}block%'});
}

# fills the pool with two long tasks, then queues the rest while they run
sub full_pool
{
	my ($prefix, $high_prio, $urgent_prio) = @_;
	start_wf("${prefix}block$_", 0, ['t', 3]) for 1 .. 2;
	ok($node->poll_query_until('postgres', qq{
		SELECT count(*) = 2 FROM mycelium.task_states t
		  JOIN mycelium.workflow_states w USING (workflow_id)
		 WHERE w.name LIKE '${prefix}block%' AND t.status = 'running'}),
		"$prefix: both workers run a long task");
	start_wf("${prefix}low$_", 0, ['t', 0.2]) for 1 .. 3;
	start_wf("${prefix}lowmix", 0, ['plain', 0.2], ['urgent', 0.2, $urgent_prio]);
	start_wf("${prefix}high", $high_prio, ['t', 0.2]);
	# nothing queued started while the pool was full
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM public.effects e JOIN mycelium.workflow_states w
		  USING (workflow_id) WHERE w.name LIKE '$prefix%'}), '0',
		"$prefix: the queued workflows wait for a worker");
	ok($node->poll_query_until('postgres', qq{
		SELECT bool_and(status = 'completed') FROM mycelium.workflow_states
		 WHERE name LIKE '$prefix%'}), "$prefix: every workflow completes");
	return start_order($prefix);
}

# without priorities: first come, first served
my $order = full_pool('fifo_', 0, undef);
like($order, qr/^fifo_low1:t fifo_low2:t fifo_low3:t /,
	'without priorities the queued workflows start in the order they were started');

# a high-priority workflow started last starts first, after a task of its
# own higher priority
$order = full_pool('prio_', 10, 20);
like($order, qr/^prio_lowmix:urgent prio_high:t prio_low1:t prio_low2:t prio_low3:t/,
	'under a full pool the task of priority 20 starts first, then the workflow of priority 10, then the low ones in order')
  or diag($order);

# the starvation bound, through claim_tasks: with priority_aging 1s a
# task of priority 5 passes one of priority 0 ready just before it, but not
# one ready more than 5 s before it
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET mycelium.priority_aging = '1s';
	SELECT pg_reload_conf();
	SELECT mycelium.register_executor('ext', NULL);});
sub ext_wf
{
	my ($name, $prio) = @_;
	return $node->safe_psql('postgres', qq{
		SET ROLE alice;
		SELECT mycelium.start_workflow(mycelium.create_workflow(
			jsonb_build_array(mycelium.task('t', 'a', 'ext')),
			name => '$name', priority => $prio)) > 0;});
}
sub claim_one
{
	return $node->safe_psql('postgres', q{
		SET ROLE alice;
		SELECT w.name FROM mycelium.claim_tasks('ext', 'agent') c
		  JOIN mycelium.workflow_states w USING (workflow_id);});
}
ext_wf('near_low', 0);
ext_wf('near_high', 5);
is(claim_one(), 'near_high', 'a task of priority 5 ready just after one of 0 goes first');
is(claim_one(), 'near_low', '... and the other next');

ext_wf('far_low', 0);
sleep(6);
ext_wf('far_high', 5);
is(claim_one(), 'far_low',
	'a task of priority 0 is not passed by one of priority 5 ready more than 5 x priority_aging after it');
is(claim_one(), 'far_high', '... which comes next');

done_testing();
