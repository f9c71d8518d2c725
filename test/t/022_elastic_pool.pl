# The elastic pool of executor workers: with the settings the README
# gives, an idle server keeps one warm worker; ready tasks make the
# launcher start more, up to mycelium.max_workers, so that 5 tasks of
# 0.2 s all start before any ends and 20 tasks of 1 s with
# max_parallel_tasks 10 run 10 at once and never more; one owner's flood
# takes at most mycelium.max_workers_per_owner workers, and another
# owner's tasks run meanwhile; idle workers leave after
# mycelium.worker_idle_timeout, down to mycelium.min_workers.  With
# no background worker slot free, work waits for the running workers and
# the log says why, once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

# the README's configuration: max_worker_processes = 16, the rest defaults
my $node = mycelium_node('pool');
is($node->safe_psql('postgres', q{
	SELECT current_setting('mycelium.max_workers') || ' ' || current_setting('mycelium.min_workers')
	    || ' ' || current_setting('mycelium.worker_idle_timeout')
	    || ' ' || current_setting('mycelium.max_workers_per_owner')}),
	'12 1 10s 10', 'the defaults: up to 12 workers, 1 kept warm, idle ones leave after 10 s, 10 per owner');

sub workers
{
	return $node->safe_psql('postgres', q{
		SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mycelium worker'});
}
$node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mycelium worker'})
  or die 'the warm worker did not start';
is(workers(), '1', 'an idle server runs one warm worker');

# creates and starts, as alice, $n independent tasks of $sleep s
sub start_sleeping
{
	my ($n, $sleep, $parallel) = @_;
	my $wf = $node->safe_psql('postgres', qq{
		SET ROLE alice;
		SELECT mycelium.create_workflow(
			(SELECT jsonb_agg(mycelium.task('t' || i, 'a', 'test', input => '{"sleep": $sleep}'))
			   FROM generate_series(1, $n) i), max_parallel_tasks => $parallel);});
	$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$wf')");
	return $wf;
}

# 5 tasks of 0.2 s, default max_parallel_tasks (10)
my $five = start_sleeping(5, 0.2, 10);
ok(wait_for_status($node, $five, 'completed', 30), '5 tasks of 0.2 s complete');
is($node->safe_psql('postgres', qq{
	SELECT max(started) < min(ended) FROM effects WHERE workflow_id = '$five'}),
	't', 'all 5 started before any ended');

# 20 tasks of 1 s, max_parallel_tasks 10: the executor measures how many
# run at once (its lowest free advisory lock, 1..100)
my $twenty = start_sleeping(20, 1, 10);
my $most = 0;
for (1 .. 600)
{
	my $n = workers();
	$most = $n if $n > $most;
	last if $node->safe_psql('postgres',
		"SELECT status FROM mycelium.workflows WHERE workflow_id = '$twenty'") eq 'completed';
	select(undef, undef, undef, 0.05);
}
ok(wait_for_status($node, $twenty, 'completed', 60), '20 tasks of 1 s complete');
is($node->safe_psql('postgres', qq{
	SELECT count(*) || ' ' || max(slot) FROM effects WHERE workflow_id = '$twenty'}),
	'20 10', 'they ran 10 at once and never more (measured by the executor)');
cmp_ok($most, '>=', 10, "the pool grew under load ($most workers)");
cmp_ok($most, '<=', 12, 'never past mycelium.max_workers');

# fairness: alice floods the pool with 30 tasks of 5 s in three workflows;
# her workflows take at most mycelium.max_workers_per_owner (10) of the 12
# workers, so bob's 3 quick tasks run on the others at once, long before
# any of hers ends; meanwhile the idle workers do not spin on her waiting
# workflows
$node->safe_psql('postgres', 'TRUNCATE effects');
my @flood = map { start_sleeping(10, 5, 10) } 1 .. 3;
$node->poll_query_until('postgres', q{
	SELECT count(*) >= 10 FROM mycelium.task_states WHERE status = 'running'})
  or die 'the flood did not start';
my $bob = $node->safe_psql('postgres', q{
	SET ROLE bob;
	SELECT mycelium.create_workflow(
		(SELECT jsonb_agg(mycelium.task('b' || i, 'a', 'test', input => '{"sleep": 0.2}'))
		   FROM generate_series(1, 3) i));});
$node->safe_psql('postgres', "SET ROLE bob; SELECT mycelium.start_workflow('$bob')");
ok(wait_for_status($node, $bob, 'completed', 60), "bob's workflow completes during the flood");
is($node->safe_psql('postgres', qq{
	SELECT (SELECT max(ended) FROM effects WHERE who = 'bob')
	     < coalesce((SELECT min(ended) FROM effects WHERE who = 'alice'), 'infinity')}),
	't', "bob's tasks ended before any of alice's 5 s tasks");
# transactions in 2 s (the statistics lag by up to a second): the two idle
# workers would commit 100 a second each if they looked at her workflows
# every 10 ms; they wait for a commit of hers instead (at most 100 ms)
my $commits = q{SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'};
my $c0 = $node->safe_psql('postgres', $commits);
sleep 2;
my $c1 = $node->safe_psql('postgres', $commits);
cmp_ok($c1 - $c0, '<', 150,
	'idle workers do not spin on the workflows of an owner at its share (' . ($c1 - $c0) . ' commits in 2 s)');
ok(wait_for_status($node, $_, 'completed', 60), 'the flood completes') for @flood;
cmp_ok($node->safe_psql('postgres', q{
	SELECT max(n) FROM (SELECT count(*) AS n FROM effects a JOIN effects b
		ON b.who = 'alice' AND b.started <= a.started AND a.started < b.ended
	 WHERE a.who = 'alice' GROUP BY a.workflow_id, a.task_id) c}),
	'<=', 10, 'alice never ran more than 10 tasks at once');

# idle workers leave after mycelium.worker_idle_timeout, down to the warm one
$node->append_conf('postgresql.conf', 'mycelium.worker_idle_timeout = 1s');
$node->reload;
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mycelium worker'}),
	'the pool shrinks to mycelium.min_workers when idle');
sleep 2;
is(workers(), '1', 'and stays there');
# none of them left with attempts: nothing was counted as lost
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM mycelium.workflow_state_history WHERE error LIKE '%was lost%'}),
	'0', 'workers that leave idle lose nothing');

# min_workers 0: an idle server runs no worker; a workflow still runs
$node->append_conf('postgresql.conf', 'mycelium.min_workers = 0');
$node->reload;
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'mycelium worker'}),
	'with mycelium.min_workers = 0 the last worker leaves too');
my $cold = start_sleeping(3, 0, 10);
ok(wait_for_status($node, $cold, 'completed', 30), 'a workflow started on an empty pool completes');
$node->stop;

# no background worker slot free: max_worker_processes = 4 leaves two
# workers beside the launcher and the logical replication launcher; 8
# tasks of 0.3 s wait for them, and all complete
my $small = mycelium_node('small', 'max_worker_processes = 4');
my $wf = $small->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(
		(SELECT jsonb_agg(mycelium.task('t' || i, 'a', 'test', input => '{"sleep": 0.3}'))
		   FROM generate_series(1, 8) i));});
$small->safe_psql('postgres', "SELECT mycelium.start_workflow('$wf')");
ok(wait_for_status($small, $wf, 'completed', 60), 'with too few background worker slots, work waits and completes');
is($small->safe_psql('postgres', qq{
	SELECT count(*) || ' ' || max(slot) FROM effects WHERE workflow_id = '$wf'}),
	'8 2', 'each task ran once, on the two workers there was room for');
my $log = slurp_file($small->logfile);
my $said = () = $log =~ /mycelium could not start an executor worker: no background worker slot is free/g;
is($said, 1, 'the log says once why no more workers start');
unlike($log, qr/TRAP|PANIC|terminated by signal/, 'nothing crashed');
$small->stop;

done_testing();
