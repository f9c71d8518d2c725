# The scheduler runs ready tasks in parallel: long tasks spread over the
# workers, none of which claims more of them ahead than it can start; a
# diamond's middle tasks overlap and the last sees both results;
# max_parallel_tasks bounds how
# many run at once, also over tasks a completion releases; a released
# task is claimed without being made ready first; tasks run as the
# workflow's owner; workers show their task in pg_stat_activity; what the
# workers write shows in the statistics views once they are idle;
# mycelium.batch_size follows a reload; long tasks a worker claimed ahead
# are handed back to workers that fell idle, at once when their executor
# is known to be long.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

# a fixed pool of 4 (min = max): the claims below depend on idle workers
my $node = mycelium_node('parallel', 'mycelium.max_workers = 4', 'mycelium.min_workers = 4');
$node->poll_query_until('postgres', q{
	SELECT count(*) = 4 FROM pg_stat_activity WHERE backend_type = 'mycelium worker'})
  or die 'the 4 workers did not start';

# creates, as alice, a workflow of $n independent tasks $prefix1.. of
# agent type $type, each sleeping $sleep s; returns its id
sub sleeping_workflow
{
	my ($prefix, $n, $type, $sleep) = @_;
	return $node->safe_psql('postgres', qq{
		SET ROLE alice;
		SELECT mycelium.create_workflow(
			(SELECT jsonb_agg(mycelium.task('$prefix' || i, 'a', '$type',
											input => '{"sleep": $sleep}'))
			   FROM generate_series(1, $n) i));});
}

# 8 independent tasks of 0.5 s, 4 workers (fresh: they have run nothing
# yet, so they expect long attempts): each worker holds one task at a
# time, so all 4 run at once and none queues tasks behind its own
my $long = sleeping_workflow('l', 8, 'test', 0.5);
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$long')");
my $most_held = 0;
for (1 .. 400)
{
	my ($held, $status) = split /\|/, $node->safe_psql('postgres', qq{
		SELECT coalesce(max(n), 0), (SELECT status FROM mycelium.workflows WHERE workflow_id = '$long')
		  FROM (SELECT count(*) n FROM mycelium.task_states
				 WHERE workflow_id = '$long' AND status = 'running' GROUP BY worker_id) w});
	$most_held = $held if $held > $most_held;
	last if $status eq 'completed';
	select(undef, undef, undef, 0.02);
}
ok(wait_for_status($node, $long, 'completed', 30), 'the long tasks complete');
is($most_held, 1, 'no worker held more than one long task at a time');
is($node->safe_psql('postgres', qq{SELECT max(slot) FROM effects WHERE workflow_id = '$long'}),
	'4', 'the 4 workers ran 4 long tasks at once');
$node->safe_psql('postgres', 'TRUNCATE effects');

# diamond A -> (B, C) -> D, created and started by alice
my $wf = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('A', 'a', 'test'),
		mycelium.task('B', 'b', 'test', dependencies => '{A}', input => '{"sleep": 1}'),
		mycelium.task('C', 'c', 'test', dependencies => '{A}', input => '{"sleep": 1}'),
		mycelium.task('D', 'd', 'test', dependencies => '{B,C}')));});
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$wf')");

# while B and C sleep, the workers say what they run
my $activity = '';
for (1 .. 100)
{
	$activity = $node->safe_psql('postgres', q{
		SELECT string_agg(query, '|' ORDER BY query) FROM pg_stat_activity
		 WHERE backend_type = 'mycelium worker' AND query LIKE 'mycelium: workflow%'});
	last if $activity =~ /task "B".*\|.*task "C"/;
	select(undef, undef, undef, 0.05);
}
like($activity, qr/mycelium: workflow $wf task "B" attempt 1\|mycelium: workflow $wf task "C" attempt 1/,
	'pg_stat_activity shows both running tasks');

ok(wait_for_status($node, $wf, 'completed', 30), 'diamond completes');
is( $node->safe_psql('postgres', q{
		SELECT b.started < c.ended AND c.started < b.ended
		  FROM effects b, effects c WHERE b.task_id = 'B' AND c.task_id = 'C'}),
	't', 'B and C overlap in time');
is( $node->safe_psql('postgres', q{
		SELECT string_agg(p->>'task_id' || ':' || (p->>'status') || ':' || (p->'result'->>'task'), ',')
		  FROM effects, jsonb_array_elements(previous) p WHERE task_id = 'D'}),
	'B:completed:B,C:completed:C', 'D sees both results in previous_results');
is( $node->safe_psql('postgres', q{SELECT string_agg(DISTINCT who, ',') FROM effects}),
	'alice', 'every task ran as the workflow owner, not as a superuser');

# 20 independent tasks, max_parallel_tasks = 3, 4 workers
$node->safe_psql('postgres', 'TRUNCATE effects');
$wf = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(
		(SELECT jsonb_agg(mycelium.task('t' || i, 'a', 'test', input => '{"sleep": 0.2}'))
		   FROM generate_series(1, 20) i), max_parallel_tasks => 3);});
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$wf')");
ok(wait_for_status($node, $wf, 'completed', 60), '20 tasks complete');
is($node->safe_psql('postgres', 'SELECT count(*) FROM effects'), '20', 'each ran once');
is($node->safe_psql('postgres', 'SELECT max(slot) FROM effects'), '3',
	'never more than 3 at once, and 3 at some point (measured by the executor)');

# A fan-out of 12 released by one completion, max_parallel_tasks = 3: the
# worker claims 3 of them as it records the completion and makes the
# other 9 ready; they run later, never more than 3 at once.
$node->safe_psql('postgres', 'TRUNCATE effects');
$wf = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(
		jsonb_build_array(mycelium.task('root', 'a', 'test'))
		|| (SELECT jsonb_agg(mycelium.task('f' || i, 'a', 'test', dependencies => '{root}',
										   input => '{"sleep": 0.1}'))
			  FROM generate_series(1, 12) i), max_parallel_tasks => 3);});
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$wf')");
ok(wait_for_status($node, $wf, 'completed', 60), 'the fan-out completes');
is($node->safe_psql('postgres', q{SELECT count(*) || ' ' || max(slot) FROM effects}), '13 3',
	'each of its tasks ran once, never more than 3 at once');

# A released task that the worker claims as it records the completion that
# released it is written once, as claimed: it never has a 'ready' version,
# so a 20-task chain leaves one entry in the index of ready tasks (its
# first task's), where making each link ready first left one per link.
# The index is read page by page (pageinspect), dead entries included;
# autovacuum is kept off it meanwhile.
$node->safe_psql('postgres', q{
	CREATE EXTENSION pageinspect;
	ALTER TABLE mycelium.task_states SET (autovacuum_enabled = false)});
$wf = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow((SELECT jsonb_agg(mycelium.task('c' || i, 'a', 'test',
		dependencies => CASE WHEN i > 1 THEN ARRAY['c' || (i - 1)] ELSE '{}' END) ORDER BY i)
		FROM generate_series(1, 20) i));});
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$wf')");
ok(wait_for_status($node, $wf, 'completed', 60), 'the chain completes');
is( $node->safe_psql('postgres', qq{
		SELECT count(*)
		  FROM generate_series(1, pg_relation_size('mycelium.task_states_ready_idx') / 8192 - 1) b,
			   LATERAL bt_page_items('mycelium.task_states_ready_idx', b::int) i
		 WHERE (bt_page_stats('mycelium.task_states_ready_idx', b::int)).type = 'l'
		   AND i.data LIKE rtrim(regexp_replace(replace('$wf', '-', ''), '(..)', '\\1 ', 'g')) || '%'}),
	'1', 'only the first link of a chain was ever in the index of ready tasks');
$node->safe_psql('postgres', 'ALTER TABLE mycelium.task_states RESET (autovacuum_enabled)');

# Idle workers have flushed their statistics: every history row the
# workflows wrote is counted as inserted in pg_stat_user_tables (the last
# steps' counts used to wait for the worker's next step).
my $stats = '';
for (1 .. 100)
{
	$stats = $node->safe_psql('postgres', q{
		SELECT s.n_tup_ins = h.n, s.n_tup_ins || ' of ' || h.n
		  FROM pg_stat_user_tables s,
		       (SELECT count(*) AS n FROM mycelium.workflow_state_history) h
		 WHERE s.relid = 'mycelium.workflow_state_history'::regclass});
	last if $stats =~ /^t/;
	select(undef, undef, undef, 0.1);
}
like($stats, qr/^t/, "the workers' writes reach pg_stat_user_tables once they are idle ($stats)");

# mycelium.batch_size takes effect on reload: 20 workflows of 10 quick
# tasks, never more than 3 claimed in one transaction (the claims' history
# rows share it), though a worker takes many workflows from the queue
$node->append_conf('postgresql.conf', 'mycelium.batch_size = 3');
$node->reload;
$node->poll_query_until('postgres', q{SELECT current_setting('mycelium.batch_size') = '3'});
sleep 2;	# the workers' next loop reloads the file (they sleep at most 1 s)
$node->safe_psql('postgres', q{
	CREATE TABLE public.quick (id uuid);
	GRANT ALL ON public.quick TO alice;
	SET ROLE alice;
	INSERT INTO public.quick
	SELECT mycelium.create_workflow(
		(SELECT jsonb_agg(mycelium.task('q' || i, 'a', 'test')) FROM generate_series(1, 10) i))
	  FROM generate_series(1, 20);
	SELECT count(mycelium.start_workflow(id)) FROM public.quick;});
$node->poll_query_until('postgres', q{
	SELECT bool_and(w.status = 'completed') FROM mycelium.workflows w JOIN public.quick q ON q.id = w.workflow_id})
  or die 'the quick workflows did not complete';
my $most = $node->safe_psql('postgres', q{
	SELECT max(n) FROM (SELECT count(*) n FROM mycelium.workflow_state_history h JOIN public.quick q
						   ON q.id = h.workflow_id
						 WHERE h.status = 'running' AND h.task_no > 0 GROUP BY h.xmin::text) c});
cmp_ok($most, '<=', 3,
	"after a reload, a worker claims at most mycelium.batch_size tasks a transaction ($most)");

# Long tasks claimed ahead on a wrong guess are handed back: 3 workers
# busy for 1.5 s, the 4th runs a quick task that releases 3 tasks of 2 s.
# Having just run a quick one, it claims all 3 (no worker is idle).  Their
# executor ("fresh", the quick task's) has run nothing but the quick task,
# so nothing says they are long: once the first has run past mycelium.batch_time the
# worker hands the other 2 back, uncounted, and the workers idle by then
# run one of them beside it.  When their executor ("slow") is known to be
# long, the worker hands them back in the step that claimed them, so the
# workers that fall idle start them while the first one runs.
$node->safe_psql('postgres', q{
	CREATE FUNCTION public.fresh_exec(ctx jsonb) RETURNS jsonb
	LANGUAGE sql AS $$ SELECT public.test_exec(ctx) $$;
	CREATE FUNCTION public.slow_exec(ctx jsonb) RETURNS jsonb
	LANGUAGE sql AS $$ SELECT public.test_exec(ctx) $$;
	GRANT EXECUTE ON FUNCTION public.fresh_exec(jsonb), public.slow_exec(jsonb) TO PUBLIC;
	SELECT mycelium.register_executor('fresh', 'public.fresh_exec(jsonb)');
	SELECT mycelium.register_executor('slow', 'public.slow_exec(jsonb)');});

# runs 3 busy tasks, then a quick task releasing 3 tasks of 2 s of agent
# type $type; returns the id of the workflow of the quick and long tasks
sub run_long_behind_quick
{
	my ($type) = @_;
	my $busy = sleeping_workflow('b', 3, 'test', 1.5);
	my $mixed = $node->safe_psql('postgres', qq{
		SET ROLE alice;
		SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('q', 'a', 'fresh')) ||
			(SELECT jsonb_agg(mycelium.task('l' || i, 'a', '$type', input => '{"sleep": 2}',
											dependencies => ARRAY['q']))
			   FROM generate_series(1, 3) i));});
	$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$busy')");
	$node->poll_query_until('postgres', qq{
		SELECT count(DISTINCT pid) = 3 FROM pg_stat_activity
		 WHERE query LIKE 'mycelium: workflow $busy %'})
	  or die 'three workers did not start the busy tasks';
	$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$mixed')");
	ok(wait_for_status($node, $mixed, 'completed', 30), "the mixed workflow ($type) completes");
	ok(wait_for_status($node, $busy, 'completed', 30), "the busy workflow ($type) completes");
	is($node->safe_psql('postgres', qq{
		SELECT string_agg(DISTINCT attempt::text, ',') FROM effects WHERE workflow_id = '$mixed'}),
		'1', "a task handed back unstarted keeps its attempt count ($type)");
	cmp_ok($node->safe_psql('postgres', qq{
		SELECT count(*) FROM mycelium.workflow_state_history
		 WHERE workflow_id = '$mixed' AND event = 'handed back: not started'
		   AND status = 'ready' AND attempt = 0}), '>=', 1,
		"history records the hand-back, the attempt uncounted ($type)");
	return $mixed;
}

my $mixed = run_long_behind_quick('fresh');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM effects a JOIN effects b ON a.task_id < b.task_id
	 WHERE a.workflow_id = '$mixed' AND b.workflow_id = '$mixed'
	   AND a.task_id LIKE 'l%' AND b.task_id LIKE 'l%'
	   AND a.started < b.ended AND b.started < a.ended}) > 0 ? 1 : 0,
	1, 'long tasks claimed ahead by one worker ran beside each other on others');

# the workers learn that "slow" is long
my $warm = sleeping_workflow('w', 2, 'slow', 0.2);
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$warm')");
ok(wait_for_status($node, $warm, 'completed', 30), 'two attempts of "slow" complete');
$mixed = run_long_behind_quick('slow');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM effects a JOIN effects b ON a.task_id <> b.task_id
	 WHERE a.workflow_id = '$mixed' AND b.workflow_id = '$mixed'
	   AND a.task_id LIKE 'l%' AND b.task_id LIKE 'l%'
	   AND a.started < b.ended AND b.started < a.ended}),
	'6', 'long tasks of a known long executor all ran at once');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM mycelium.workflow_state_history h
	 WHERE h.workflow_id = '$mixed' AND h.event = 'handed back: not started'
	   AND EXISTS (SELECT 1 FROM mycelium.workflow_state_history c
				   WHERE c.workflow_id = h.workflow_id AND c.task_no = h.task_no
					 AND c.status = 'running' AND c.attempt = 1 AND c.version < h.version
					 AND c.xmin::text = h.xmin::text)}),
	'2', 'the two behind the first are handed back in the step that claimed them');

$node->stop;
done_testing();
