# add_tasks with the real scheduler: an executor running in a background
# worker adds sub-tasks to its own workflow, they run (in parallel, as the
# owner) and the workflow completes only when they have; the owner grows a
# running workflow from another session; a cycle is refused inside the
# attempt; a dependency on a task a worker is running is refused, not
# waited for.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('grow');

$node->safe_psql('postgres', q{
	-- on its task "plan", adds three parallel workers and a merge that
	-- waits for them and for the planner itself; on "loop", a cycle
	CREATE FUNCTION public.spawner(ctx jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		v bigint;
	BEGIN
		IF ctx->'task'->>'task_id' = 'plan' THEN
			v := mycelium.add_tasks((ctx->>'workflow_id')::uuid, jsonb_build_array(
				mycelium.task('sub1', 'w', 'test', input => '{"sleep": 0.5}'),
				mycelium.task('sub2', 'w', 'test', input => '{"sleep": 0.5}'),
				mycelium.task('sub3', 'w', 'test', input => '{"sleep": 0.5}'),
				mycelium.task('merge', 'm', 'test', dependencies => '{plan,sub1,sub2,sub3}')));
		ELSIF ctx->'task'->>'task_id' = 'loop' THEN
			v := mycelium.add_tasks((ctx->>'workflow_id')::uuid, jsonb_build_array(
				mycelium.task('x1', 'w', 'test', dependencies => '{x2}'),
				mycelium.task('x2', 'w', 'test', dependencies => '{x1}')));
		END IF;
		RETURN jsonb_build_object('version', v, 'who', current_user);
	END $$;
	GRANT EXECUTE ON FUNCTION public.spawner(jsonb) TO PUBLIC;
	SELECT mycelium.register_executor('spawner', 'public.spawner(jsonb)');
	SELECT mycelium.register_executor('outside', NULL);
});

# 1. an agent spawns sub-agents in its own workflow
my $wf = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('plan', 'p', 'spawner')));});
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$wf')");
ok(wait_for_status($node, $wf, 'completed', 60), 'the workflow completes');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(task_id || '=' || status, ',' ORDER BY task_id) FROM mycelium.tasks
	 WHERE workflow_id = '$wf'}),
	'merge=completed,plan=completed,sub1=completed,sub2=completed,sub3=completed',
	'the added tasks ran');
is($node->safe_psql('postgres', qq{
	SELECT task_count FROM mycelium.workflow_states WHERE workflow_id = '$wf'}),
	'5', 'the workflow counts the added tasks');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(DISTINCT who::text, ',') FROM public.effects WHERE workflow_id = '$wf'}),
	'alice', 'the added tasks ran as the owner');
is($node->safe_psql('postgres', qq{
	SELECT jsonb_agg(p->>'task_id' ORDER BY p->>'task_id') FROM public.effects, jsonb_array_elements(previous) p
	 WHERE workflow_id = '$wf' AND task_id = 'merge'}),
	'["plan", "sub1", "sub2", "sub3"]', 'the merge saw the planner and every sub-task');
ok($node->safe_psql('postgres', qq{
	SELECT max(started) < (SELECT min(finished_at) FROM mycelium.tasks
						   WHERE workflow_id = '$wf' AND task_id LIKE 'sub%')
	  FROM public.effects WHERE workflow_id = '$wf' AND task_id LIKE 'sub%'}) eq 't',
	'the sub-tasks ran in parallel');
ok($node->safe_psql('postgres', qq{
	SELECT (SELECT started FROM public.effects WHERE workflow_id = '$wf' AND task_id = 'merge')
		   >= max(ended) FROM public.effects WHERE workflow_id = '$wf' AND task_id LIKE 'sub%'}) eq 't',
	'the merge waited for the sub-tasks');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(DISTINCT changed_by::text || ':' || event, ',')
	  FROM mycelium.workflow_history('$wf') WHERE event LIKE 'added%'}),
	'alice:added,alice:added 4 tasks', 'history records the addition by the owner');

# 2. the owner grows a running workflow from another session
$wf = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('ext', 'e', 'outside')));});
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$wf')");
$node->safe_psql('postgres', qq{
	SET ROLE alice;
	SELECT mycelium.add_tasks('$wf', jsonb_build_array(
		mycelium.task('now', 'w', 'test'),
		mycelium.task('after_ext', 'w', 'test', dependencies => '{ext}')));});
$node->poll_query_until('postgres',
	"SELECT status = 'completed' FROM mycelium.tasks WHERE workflow_id = '$wf' AND task_id = 'now'")
  or die 'the added task did not run';
is($node->safe_psql('postgres', qq{
	SELECT status FROM mycelium.tasks WHERE workflow_id = '$wf' AND task_id = 'after_ext'}),
	'pending', 'a task added behind an open dependency waits');
is($node->safe_psql('postgres', "SELECT status FROM mycelium.workflows WHERE workflow_id = '$wf'"),
	'running', 'the workflow is still running');
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.update_task('$wf', 'ext', 'completed')");
ok(wait_for_status($node, $wf, 'completed', 30), 'it completes once its dependency does');

# 3. a cycle through add_tasks is refused inside the attempt
$wf = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('loop', 'p', 'spawner', max_attempts => 1)));});
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$wf')");
ok(wait_for_status($node, $wf, 'failed', 30), 'the workflow fails');
like($node->safe_psql('postgres', qq{
	SELECT error FROM mycelium.tasks WHERE workflow_id = '$wf' AND task_id = 'loop'}),
	qr/^dependency cycle: x1 -> x2 -> x1/, 'the attempt failed on the cycle');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM mycelium.task_states WHERE workflow_id = '$wf'}),
	'1', 'nothing of the refused call was stored');

# 4. a task a worker is running cannot gain dependents from elsewhere
$wf = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('slow', 'w', 'test', input => '{"sleep": 3}')));});
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$wf')");
$node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'mycelium worker' AND query LIKE '%task "slow"%'})
  or die 'slow did not start';
my ($ret, $stdout, $stderr) = $node->psql('postgres', qq{
	SET ROLE alice;
	SELECT mycelium.add_tasks('$wf', jsonb_build_array(
		mycelium.task('next', 'w', 'test', dependencies => '{slow}')));},
	extra_params => ['-v', 'VERBOSITY=verbose']);
like($stderr, qr/55P03: task "slow" is running in a worker/, 'refused with 55P03 rather than a wait');
ok(wait_for_status($node, $wf, 'completed', 30), 'the running task completes undisturbed');

done_testing();
