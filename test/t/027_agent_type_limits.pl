# Per-agent-type limits through the scheduler's workers and claim_tasks:
# an agent type limited to 3 never has more than 3 attempts running across
# 10 workflows of 2 roles, while workers run its tasks and, once it is
# re-registered for external agents, while agents of both roles claim
# them with the workers' attempts still running (without the limit, the
# same workflows run more than 3 at once); tasks held back by a limit do
# not hold back a workflow's other tasks; a limit raised takes effect
# at once; a rate of 10 a second holds over 5 seconds, within one task
# (the bucket's burst), where without it the tasks all start in well
# under a second.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('limits');
$node->safe_psql('postgres', q{
	CREATE TABLE public.phase (name text, workflow_id uuid);
	GRANT ALL ON public.phase TO PUBLIC;
	-- the most attempts of a phase that overlapped in time
	CREATE FUNCTION public.most_at_once(p text) RETURNS bigint
	LANGUAGE sql AS $$
		WITH e AS (SELECT e.* FROM public.effects e
		           JOIN public.phase USING (workflow_id) WHERE phase.name = p)
		SELECT max((SELECT count(*) FROM e e2
		            WHERE e2.started <= e1.started AND e2.ended > e1.started))
		  FROM e e1
	$$;
	SELECT mycelium.register_executor('lim', 'public.test_exec(jsonb)');
});

# starts, in phase $phase, 5 workflows of alice and 5 of bob, each of
# $n tasks of agent type $type sleeping $sleep s
sub start_phase
{
	my ($phase, $type, $n, $sleep) = @_;
	my @wfs;
	for my $role ('alice', 'bob')
	{
		for (1 .. 5)
		{
			my $wf = $node->safe_psql('postgres', qq{
				SET ROLE $role;
				SELECT mycelium.create_workflow(
					(SELECT jsonb_agg(mycelium.task('t' || i, 'a', '$type',
						input => '{"sleep": $sleep}', timeout => 120))
					   FROM generate_series(1, $n) i));});
			$node->safe_psql('postgres', qq{
				INSERT INTO public.phase VALUES ('$phase', '$wf');
				SET ROLE $role; SELECT mycelium.start_workflow('$wf');});
			push @wfs, $wf;
		}
	}
	return @wfs;
}

sub all_completed
{
	my ($phase, $timeout) = @_;
	return $node->poll_query_until('postgres', qq{
		SELECT bool_and(w.status = 'completed') FROM public.phase p
		  JOIN mycelium.workflow_states w USING (workflow_id) WHERE p.name = '$phase'},
		't');
}

# without a limit: the same load runs more than 3 at once
start_phase('free', 'lim', 2, 0.5);
ok(all_completed('free'), 'without limits, 10 workflows of 2 tasks complete');
cmp_ok($node->safe_psql('postgres', q{SELECT public.most_at_once('free')}), '>', 3,
	'without limits, more than 3 attempts ran at once');

# limited to 3: workers only
$node->safe_psql('postgres', q{SELECT mycelium.set_agent_type_limits('lim', 3)});
start_phase('workers', 'lim', 3, 0.3);
ok(all_completed('workers'), 'limited to 3, 10 workflows of 3 tasks complete');
is($node->safe_psql('postgres', q{SELECT public.most_at_once('workers')}), '3',
	'limited to 3, the workers ran 3 attempts at once and never more');

# workers and claim_tasks together: while the workers run the type's
# tasks it is registered again for external agents, which alice's and
# bob's agents claim, holding each 0.3 s, with the workers' attempts
# still running; both kinds of attempt count against the same limit
start_phase('mixed', 'lim', 4, 0.6);
$node->poll_query_until('postgres', q{
	SELECT count(*) >= 3 FROM mycelium.task_states
	 WHERE agent_type = 'lim' AND status = 'running'}, 't')
  or die 'the workers did not start the tasks';
$node->safe_psql('postgres', q{SELECT mycelium.register_executor('lim', NULL)});
my $worker_running = $node->safe_psql('postgres', q{
	SELECT count(*) FROM mycelium.task_states
	 WHERE agent_type = 'lim' AND status = 'running' AND lease_until IS NULL});
my ($claims, $rounds, $most_claimed) = (0, 0, 0);
while ($rounds++ < 400)
{
	my $left = $node->safe_psql('postgres', q{
		SELECT count(*) FROM mycelium.task_states t JOIN public.phase p USING (workflow_id)
		 WHERE p.name = 'mixed' AND t.status <> 'completed'});
	last if $left == 0;
	my $held = 0;
	for my $role ('alice', 'bob')
	{
		# claim as many as the limit allows; record when each started
		my $n = $node->safe_psql('postgres', qq{
			SET ROLE $role;
			INSERT INTO public.effects (workflow_id, task_id, attempt, who, started)
			SELECT c.workflow_id, c.task_id, c.attempt, current_user, pg_catalog.clock_timestamp()
			  FROM mycelium.claim_tasks('lim', '$role-agent', 10) c;
			SELECT count(*) FROM mycelium.tasks
			 WHERE worker_id = '$role-agent' AND status = 'running'});
		$held += $n;
	}
	$most_claimed = $held if $held > $most_claimed;
	$claims += $held;
	usleep(300_000);
	for my $role ('alice', 'bob')
	{
		$node->safe_psql('postgres', qq{
			SET ROLE $role;
			UPDATE public.effects e SET ended = pg_catalog.clock_timestamp()
			  FROM mycelium.tasks t
			 WHERE t.worker_id = '$role-agent' AND t.status = 'running'
			   AND e.workflow_id = t.workflow_id AND e.task_id = t.task_id
			   AND e.attempt = t.attempt AND e.ended IS NULL;
			SELECT count(mycelium.complete_task(workflow_id, task_id, worker_id, '{}'))
			  FROM mycelium.tasks WHERE worker_id = '$role-agent' AND status = 'running'});
	}
}
ok(all_completed('mixed'), 'the mixed workflows complete, by workers and by agents');
cmp_ok($worker_running, '>=', 1, "workers' attempts were running when agents began to claim ($worker_running)");
cmp_ok($claims, '>=', 20, "agents of both roles claimed the rest ($claims)");
cmp_ok($most_claimed, '<=', 3, "the agents never held more than 3 at once ($most_claimed)");
is($node->safe_psql('postgres', q{
	SELECT count(DISTINCT who) FROM public.effects e JOIN public.phase p USING (workflow_id)
	 WHERE p.name = 'mixed' AND e.slot IS NULL}), '2', 'both roles\' agents claimed');
is($node->safe_psql('postgres', q{SELECT public.most_at_once('mixed')}), '3',
	'workers and agents together: 3 attempts at once and never more');

# a workflow whose first 200 ready tasks are of a type held back (limit
# 0): its 5 other tasks still run, the held-back ones do not fill the
# workers' claims; lifted, the rest run too
$node->safe_psql('postgres', q{
	SELECT mycelium.register_executor('lim', 'public.test_exec(jsonb)');
	SELECT mycelium.set_agent_type_limits('lim', 0);});
my $mixed = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(
		(SELECT jsonb_agg(mycelium.task('h' || i, 'a', 'lim')) FROM generate_series(1, 200) i)
		|| (SELECT jsonb_agg(mycelium.task('f' || i, 'a', 'test')) FROM generate_series(1, 5) i),
		max_parallel_tasks => 1000);});
$node->safe_psql('postgres', qq{
	INSERT INTO public.phase VALUES ('held', '$mixed');
	SET ROLE alice; SELECT mycelium.start_workflow('$mixed');});
ok($node->poll_query_until('postgres', qq{
	SELECT count(*) FILTER (WHERE agent_type = 'test' AND status = 'completed') = 5
	   AND count(*) FILTER (WHERE agent_type = 'lim' AND status = 'ready') = 200
	  FROM mycelium.task_states WHERE workflow_id = '$mixed'}, 't'),
	'the tasks of other types run while 200 ready tasks are held back');
$node->safe_psql('postgres', q{SELECT mycelium.set_agent_type_limits('lim')});
ok(all_completed('held'), 'lifted, the held-back tasks run');

# the rate: 10 a second, over 60 quick tasks in one workflow; the claims'
# times (started_at) are what the bucket bounds
$node->safe_psql('postgres', q{
	SELECT mycelium.set_agent_type_limits('lim', NULL, 10, '1 second');});
my $wf = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(
		(SELECT jsonb_agg(mycelium.task('r' || i, 'a', 'lim')) FROM generate_series(1, 60) i),
		max_parallel_tasks => 100);});
$node->safe_psql('postgres', qq{
	INSERT INTO public.phase VALUES ('rate', '$wf');
	SET ROLE alice; SELECT mycelium.start_workflow('$wf');});
ok(all_completed('rate'), '60 tasks at 10 a second complete');
my ($in5, $in1, $span) = split /\|/, $node->safe_psql('postgres', qq{
	WITH e AS (SELECT started_at AS started FROM mycelium.task_states
	           WHERE workflow_id = '$wf')
	SELECT (SELECT max((SELECT count(*) FROM e e2
	                    WHERE e2.started >= e1.started
	                      AND e2.started < e1.started + interval '5 s')) FROM e e1),
	       (SELECT max((SELECT count(*) FROM e e2
	                    WHERE e2.started >= e1.started
	                      AND e2.started < e1.started + interval '1 s')) FROM e e1),
	       (SELECT extract(epoch FROM max(started) - min(started)) FROM e)});
cmp_ok($in5, '<=', 51, "at most 51 started in any 5 seconds ($in5)");
cmp_ok($in1, '<=', 11, "at most 11 started in any second ($in1)");
cmp_ok($span, '>=', 5.0, "the 60 starts spread over more than 5 s ($span s)");
cmp_ok($in5, '>=', 20, "the rate is used, not starved: at least 20 in the busiest 5 s ($in5)");

# raised, it takes effect at once: 100 a second, 60 tasks in under 5 s
$node->safe_psql('postgres', q{SELECT mycelium.set_agent_type_limits('lim', NULL, 1000, '1 second')});
$wf = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(
		(SELECT jsonb_agg(mycelium.task('r' || i, 'a', 'lim')) FROM generate_series(1, 60) i),
		max_parallel_tasks => 100);});
$node->safe_psql('postgres', qq{
	INSERT INTO public.phase VALUES ('fast', '$wf');
	SET ROLE alice; SELECT mycelium.start_workflow('$wf');});
ok(all_completed('fast'), 'the raised rate: 60 tasks complete');
cmp_ok($node->safe_psql('postgres', qq{
	SELECT extract(epoch FROM max(started) - min(started)) FROM public.effects
	 WHERE workflow_id = '$wf'}), '<', 5.0, 'a raised rate takes effect at once');

# the launcher looks for the workflows of tasks held back by limits only
# while limits hold claims back: its look (read from auto_explain's log)
# is not made while 20 tasks wait for their workflow's
# max_parallel_tasks (1) under limits that never bind, and is while a
# limit (max_running 1) holds back the tasks of a workflow that could run
# 5 at once
$node->append_conf('postgresql.conf', join("\n",
	"shared_preload_libraries = 'mycelium,auto_explain'",
	'auto_explain.log_min_duration = 0',
	'auto_explain.log_nested_statements = on'));
$node->restart;
sub launcher_looks
{
	my ($limits, $parallel) = @_;
	$node->safe_psql('postgres', "SELECT mycelium.set_agent_type_limits('lim', $limits)");
	my $offset = -s $node->logfile;
	my $w = $node->safe_psql('postgres', qq{
		SET ROLE alice;
		SELECT mycelium.create_workflow(
			(SELECT jsonb_agg(mycelium.task('s' || i, 'a', 'lim', input => '{"sleep": 0.2}'))
			   FROM generate_series(1, 20) i),
			max_parallel_tasks => $parallel);});
	$node->safe_psql('postgres', qq{
		INSERT INTO public.phase VALUES ('looks $limits', '$w');
		SET ROLE alice; SELECT mycelium.start_workflow('$w');});
	ok(all_completed("looks $limits"), "limits ($limits): 20 tasks complete");
	my @looks = grep { /Query Text: SELECT t.workflow_id, pg_catalog.max\(t.priority\) FROM mycelium.executors e JOIN/ }
	  split /\n/, slurp_file($node->logfile, $offset);
	return scalar @looks;
}
is(launcher_looks('1000, 1000000', 1), 0,
	'limits that never bind: the launcher never looks for held-back tasks');
cmp_ok(launcher_looks('1', 5), '>', 0,
	'a limit that binds (max_running 1): the launcher looks for them');
$node->safe_psql('postgres', q{SELECT mycelium.set_agent_type_limits('lim')});

$node->stop;
done_testing();
