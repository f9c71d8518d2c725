-- Example: a diamond workflow A -> (B, C) -> D, driven by hand through the
-- state manager, then rolled back to an earlier version.
\pset footer off
\echo '--- register an executor and create the workflow'
CREATE FUNCTION public.summarize(ctx jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_object('seen', ctx->'task'->>'task_id') $$;
SELECT mycelium.register_executor('summarizer', 'public.summarize(jsonb)');

SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('A', 'agent-a', 'summarizer'),
	mycelium.task('B', 'agent-b', 'summarizer', dependencies => '{A}'),
	mycelium.task('C', 'agent-c', 'summarizer', dependencies => '{A}'),
	mycelium.task('D', 'agent-d', 'summarizer', dependencies => '{B,C}')),
	name => 'diamond') AS wf \gset
SELECT task_id, status, dependencies FROM mycelium.tasks
 WHERE workflow_id = :'wf' ORDER BY task_id;

\echo '--- A runs and completes: B and C become ready'
SELECT mycelium.update_task(:'wf', 'A', 'running') AS version;
SELECT mycelium.update_task(:'wf', 'A', 'completed', '{"rows": 42}') AS version;
SELECT task_id, status, attempt FROM mycelium.tasks
 WHERE workflow_id = :'wf' ORDER BY task_id;

\echo '--- B and C complete, D completes: the workflow completes'
SELECT mycelium.update_task(:'wf', t, s) AS version
  FROM (VALUES ('B', 'running'), ('C', 'running'), ('B', 'completed'),
			   ('C', 'completed'), ('D', 'running'), ('D', 'completed')) v(t, s);
SELECT name, status, version FROM mycelium.workflows WHERE workflow_id = :'wf';

\echo '--- the history of every change'
SELECT version, coalesce(task_id, '(workflow)') AS what, status, attempt, event
  FROM mycelium.workflow_history(:'wf');

\echo '--- roll back to version 3 (A done, B and C ready) and look again'
SELECT mycelium.rollback_workflow(:'wf', 3) AS version;
SELECT * FROM mycelium.workflow_progress WHERE workflow_id = :'wf' \gx
