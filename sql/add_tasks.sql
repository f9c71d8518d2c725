-- add_tasks: a workflow that has not finished grows by new tasks, which
-- may depend on each other and on existing tasks; the same checks as
-- create_workflow (cycles, unknown and duplicate ids); a refused call
-- changes nothing.

CREATE FUNCTION regress.grow_state(wf uuid) RETURNS TABLE (task_id text, status mycelium.task_status,
	deps_pending int, dependencies text[], dependents text[])
LANGUAGE sql AS $$
	SELECT t.task_id, t.status, t.deps_pending,
		   ARRAY(SELECT d.task_id FROM mycelium.task_states d
				  WHERE d.workflow_id = t.workflow_id AND d.task_no = ANY (t.dependencies) ORDER BY d.task_no),
		   ARRAY(SELECT d.task_id FROM mycelium.task_states d
				  WHERE d.workflow_id = t.workflow_id AND d.task_no = ANY (t.dependents) ORDER BY d.task_no)
	  FROM mycelium.task_states t WHERE t.workflow_id = wf ORDER BY t.task_no
$$;
CREATE FUNCTION regress.grow_outcome(result jsonb) RETURNS text LANGUAGE sql AS $$
	SELECT (result->>'status') || ': ' || string_agg(key || '=' || (value->>'status'), ' ' ORDER BY key)
	  FROM jsonb_each(result->'tasks')
$$;
CREATE FUNCTION regress.wf_summary(wf uuid) RETURNS text LANGUAGE sql AS $$
	SELECT format('%s v%s tasks=%s open=%s', status, version, task_count, tasks_open)
	  FROM mycelium.workflow_states WHERE workflow_id = wf
$$;

-- a pending workflow grows: b depends on the existing a, c on the new b
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'worker'))) AS wf \gset
SELECT mycelium.add_tasks(:'wf', jsonb_build_array(
	mycelium.task('c', 'x', 'worker', dependencies => '{b}'),
	mycelium.task('b', 'x', 'worker', dependencies => '{a}'),
	mycelium.task('free', 'x', 'worker')));
SELECT regress.wf_summary(:'wf');
SELECT * FROM regress.grow_state(:'wf');
SELECT version, task_id, status, attempt, event FROM mycelium.workflow_history(:'wf');
-- run by the scheduler: every task completes, each after its dependencies
SELECT regress.grow_outcome(mycelium.execute_workflow(:'wf'));
SELECT bool_and(t.started_at >= d.finished_at) AS dependency_order
  FROM mycelium.tasks t CROSS JOIN LATERAL unnest(t.dependencies) AS dep(id)
  JOIN mycelium.tasks d ON d.workflow_id = t.workflow_id AND d.task_id = dep.id
 WHERE t.workflow_id = :'wf';

-- a dependency that already completed (or failed with allow_failure) is
-- met: the new task is ready at once
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('done', 'x', 'worker'),
	mycelium.task('soft', 'x', 'external', allow_failure => true),
	mycelium.task('open', 'x', 'external'))) AS wf2 \gset
SELECT mycelium.update_task(:'wf2', 'done', 'completed', '{"n": 1}');
SELECT mycelium.update_task(:'wf2', 'soft', 'failed', NULL, 'gave up');
SELECT mycelium.add_tasks(:'wf2', jsonb_build_array(
	mycelium.task('after_done', 'x', 'worker', dependencies => '{done,soft}'),
	mycelium.task('after_open', 'x', 'worker', dependencies => '{done,open}')));
SELECT * FROM regress.grow_state(:'wf2');

-- a paused workflow grows too; its new tasks wait for resume
SELECT mycelium.update_task(:'wf2', 'open', 'running');
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('p', 'x', 'external'))) AS paused \gset
SELECT mycelium.start_workflow(:'paused');
SELECT mycelium.pause_workflow(:'paused');
SELECT mycelium.add_tasks(:'paused', jsonb_build_array(mycelium.task('q', 'x', 'external', dependencies => '{p}')));
SELECT regress.wf_summary(:'paused');

-- nothing to add: no new version
SELECT mycelium.add_tasks(:'paused', '[]');
SELECT regress.wf_summary(:'paused');

-- refused, and nothing changes: the version and the tables stay as they are
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('s', 'x', 'external'), mycelium.task('t', 'x', 'external'))) AS wf3 \gset
SELECT mycelium.update_task(:'wf3', 's', 'skipped');
SELECT regress.wf_summary(:'wf2') AS before \gset
SELECT * FROM regress.counts() \gset before_
-- a cycle among the new tasks, named
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, %L)$$, :'wf2', jsonb_build_array(
	mycelium.task('n1', 'x', 'worker', dependencies => '{open,n3}'),
	mycelium.task('n2', 'x', 'worker', dependencies => '{n1}'),
	mycelium.task('n3', 'x', 'worker', dependencies => '{n2}'))));
-- unknown dependency
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, %L)$$, :'wf2', jsonb_build_array(
	mycelium.task('n1', 'x', 'worker', dependencies => '{nowhere}'))));
-- duplicate of an existing task id, and among the new ones
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, %L)$$, :'wf2', jsonb_build_array(
	mycelium.task('n1', 'x', 'worker'), mycelium.task('done', 'x', 'worker'))));
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, %L)$$, :'wf2', jsonb_build_array(
	mycelium.task('n1', 'x', 'worker'), mycelium.task('n1', 'x', 'worker'))));
-- self and repeated dependencies
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, %L)$$, :'wf2', jsonb_build_array(
	mycelium.task('n1', 'x', 'worker', dependencies => '{n1}'))));
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, %L)$$, :'wf2', jsonb_build_array(
	mycelium.task('n1', 'x', 'worker', dependencies => '{done,done}'))));
-- a dependency that can never be met
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, %L)$$, :'wf3', jsonb_build_array(
	mycelium.task('n1', 'x', 'worker', dependencies => '{s}'))));
-- unregistered agent type, malformed definitions, not an array
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, %L)$$, :'wf2', jsonb_build_array(
	mycelium.task('n1', 'x', 'nobody'))));
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, %L)$$, :'wf2',
	'[{"task_id": "n1", "agent_id": "x", "agent_type": "worker", "timeout": -1}]'));
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, %L)$$, :'wf2', '{"task_id": "n1"}'));
-- NULL arguments
SELECT regress.try($$SELECT mycelium.add_tasks(NULL, '[]')$$);
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, NULL)$$, :'wf2'));
-- the workflow limit
SET mycelium.max_tasks_per_workflow = 4;
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, %L)$$, :'wf2', jsonb_build_array(
	mycelium.task('n1', 'x', 'worker'))));
RESET mycelium.max_tasks_per_workflow;
-- another role's workflow does not exist for it
SET ROLE regress_bob;
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, %L)$$, :'wf2', jsonb_build_array(
	mycelium.task('n1', 'x', 'worker'))));
RESET ROLE;
SELECT regress.wf_summary(:'wf2') = :'before' AS version_unchanged,
	   (SELECT ROW(c.*) = ROW(:before_workflows::bigint, :before_tasks::bigint, :before_history::bigint)
		  FROM regress.counts() c) AS tables_unchanged;
-- a finished workflow
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, %L)$$, :'wf', jsonb_build_array(
	mycelium.task('late', 'x', 'worker'))));

-- an administrator may grow any workflow; the tasks still belong to its owner
SET ROLE regress_alice;
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'external'))) AS alice_wf \gset
SET ROLE regress_admin;
SELECT mycelium.add_tasks(:'alice_wf', jsonb_build_array(mycelium.task('b', 'x', 'external')));
RESET ROLE;
SELECT task_id, owner FROM mycelium.task_states WHERE workflow_id = :'alice_wf' ORDER BY task_no;
SELECT changed_by, event FROM mycelium.workflow_history(:'alice_wf') WHERE version = 2;

-- an executor that spawns sub-agents in its own workflow: the planner
-- adds two workers and a merge that depends on them and on the planner
CREATE FUNCTION regress.planner(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	IF ctx->'task'->>'task_id' = 'plan' THEN
		PERFORM mycelium.add_tasks((ctx->>'workflow_id')::uuid, jsonb_build_array(
			mycelium.task('sub1', 'w1', 'planner'),
			mycelium.task('sub2', 'w2', 'planner'),
			mycelium.task('merge', 'm', 'planner', dependencies => '{plan,sub1,sub2}')));
	ELSIF ctx->'task'->>'task_id' = 'loop' THEN
		-- an agent that tries to make its new tasks wait for each other
		PERFORM mycelium.add_tasks((ctx->>'workflow_id')::uuid, jsonb_build_array(
			mycelium.task('x1', 'w', 'planner', dependencies => '{x2}'),
			mycelium.task('x2', 'w', 'planner', dependencies => '{x1}')));
	END IF;
	RETURN jsonb_build_object('saw', (SELECT jsonb_agg(p->>'task_id' ORDER BY p->>'task_id')
									  FROM jsonb_array_elements(ctx->'previous_results') p));
END $$;
SELECT mycelium.register_executor('planner', 'regress.planner(jsonb)');
-- (created and run in one transaction: the inline path)
BEGIN;
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('plan', 'p', 'planner'))) AS spawn \gset
SELECT regress.grow_outcome(mycelium.execute_workflow(:'spawn'));
COMMIT;
SELECT task_id, status, result FROM mycelium.tasks WHERE workflow_id = :'spawn' ORDER BY task_id;
SELECT regress.wf_summary(:'spawn');
-- the cycle is refused inside the attempt: the task fails with the error
-- and nothing it tried to add is there
SELECT regress.try($$SELECT mycelium.execute_workflow(mycelium.create_workflow(jsonb_build_array(
	mycelium.task('loop', 'p', 'planner', max_attempts => 1))))$$);
SELECT count(*) AS x_tasks FROM mycelium.task_states WHERE task_id IN ('x1', 'x2');
