-- update_task, versions, history and rollback

SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('A', 'a1', 'worker'),
	mycelium.task('B', 'b1', 'worker', dependencies => '{A}'),
	mycelium.task('C', 'c1', 'worker', dependencies => '{A}', allow_failure => true),
	mycelium.task('D', 'd1', 'worker', dependencies => '{B,C}'))) AS wf \gset

CREATE FUNCTION regress.states(wf uuid) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(task_id || '=' || status || '/' || attempt, ' ' ORDER BY task_id)
	  FROM mycelium.tasks WHERE workflow_id = wf
$$;

-- each change returns the new version
SELECT mycelium.update_task(:'wf', 'A', 'running');
SELECT mycelium.update_task(:'wf', 'A', 'completed', '{"out": "a"}');
SELECT regress.states(:'wf');
SELECT mycelium.update_task(:'wf', 'B', 'running');
-- running -> ready puts a task back for another attempt
SELECT mycelium.update_task(:'wf', 'B', 'ready', NULL, 'transient');
SELECT mycelium.update_task(:'wf', 'B', 'running');
SELECT mycelium.update_task(:'wf', 'B', 'completed', '{"out": "b"}');
-- an allow_failure task that fails still releases its dependents
SELECT mycelium.update_task(:'wf', 'C', 'failed', NULL, 'optional step broke');
SELECT regress.states(:'wf');
SELECT status, version FROM mycelium.workflows WHERE workflow_id = :'wf';

-- refused transitions change nothing
SELECT regress.try(format($$SELECT mycelium.update_task(%L, 'A', 'running')$$, :'wf'));
SELECT regress.try(format($$SELECT mycelium.update_task(%L, 'D', 'pending')$$, :'wf'));
SELECT regress.try(format($$SELECT mycelium.update_task(%L, 'D', 'done')$$, :'wf'));
SELECT regress.try(format($$SELECT mycelium.update_task(%L, 'Z', 'running')$$, :'wf'));
SELECT regress.try(format($$SELECT mycelium.update_task(%L, NULL, 'running')$$, :'wf'));
SELECT regress.try(format($$SELECT mycelium.update_task(%L, 'D', NULL)$$, :'wf'));
SELECT regress.try($$SELECT mycelium.update_task(NULL, 'D', 'running')$$);
SELECT regress.try($$SELECT mycelium.update_task('00000000-0000-0000-0000-000000000000', 'D', 'running')$$);
SET mycelium.max_payload_size = '1kB';
SELECT regress.try(format($$SELECT mycelium.update_task(%L, 'D', 'completed', to_jsonb(repeat('x', 2000)))$$, :'wf'));
SELECT regress.try(format($$SELECT mycelium.update_task(%L, 'D', 'failed', NULL, repeat('x', 2000))$$, :'wf'));
RESET mycelium.max_payload_size;
SELECT version FROM mycelium.workflows WHERE workflow_id = :'wf';

-- the last task completes the workflow
SELECT mycelium.update_task(:'wf', 'D', 'completed', '{"out": "d"}');
SELECT status, version, finished_at IS NOT NULL AS finished
  FROM mycelium.workflows WHERE workflow_id = :'wf';
SELECT regress.try(format($$SELECT mycelium.update_task(%L, 'D', 'failed')$$, :'wf'));

-- history: one entry per change and per task it touched
SELECT version, task_id, status, attempt, error, event
  FROM mycelium.workflow_history(:'wf');

-- rollback to version 4 (A completed, B running): B was running, so it is
-- ready again with the attempt it had; the workflow was pending then
SELECT mycelium.rollback_workflow(:'wf', 4);
SELECT regress.states(:'wf');
SELECT status, version, finished_at IS NULL AS not_finished
  FROM mycelium.workflows WHERE workflow_id = :'wf';
SELECT result FROM mycelium.tasks WHERE workflow_id = :'wf' AND task_id = 'A';
-- ... and forward again to version 9, where everything had completed
SELECT mycelium.rollback_workflow(:'wf', 9);
SELECT regress.states(:'wf');
SELECT status FROM mycelium.workflows WHERE workflow_id = :'wf';
SELECT version, task_id, status, event FROM mycelium.workflow_history(:'wf') WHERE version > 9;

-- bad versions
SELECT regress.try(format($$SELECT mycelium.rollback_workflow(%L, 0)$$, :'wf'));
SELECT regress.try(format($$SELECT mycelium.rollback_workflow(%L, 12)$$, :'wf'));

-- refused while tasks are running
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('x', 'a', 'worker'), mycelium.task('y', 'a', 'worker'))) AS wf2 \gset
SELECT mycelium.update_task(:'wf2', 'x', 'running');
SELECT regress.try(format($$SELECT mycelium.rollback_workflow(%L, 1)$$, :'wf2'));

-- a failure without allow_failure fails the workflow: running tasks are
-- cancelled, the others skipped
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('p', 'a', 'worker'),
	mycelium.task('q', 'a', 'worker'),
	mycelium.task('r', 'a', 'worker', dependencies => '{p}'))) AS wf3 \gset
SELECT mycelium.update_task(:'wf3', 'q', 'running');
SELECT mycelium.update_task(:'wf3', 'p', 'running');
SELECT mycelium.update_task(:'wf3', 'p', 'failed', NULL, 'disk on fire');
SELECT regress.states(:'wf3');
SELECT status, error FROM mycelium.workflows WHERE workflow_id = :'wf3';
SELECT regress.try(format($$SELECT mycelium.update_task(%L, 'q', 'completed')$$, :'wf3'));

-- skipping a task skips everything downstream of it
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('s1', 'a', 'worker'),
	mycelium.task('s2', 'a', 'worker', dependencies => '{s1}'),
	mycelium.task('s3', 'a', 'worker', dependencies => '{s2}'),
	mycelium.task('other', 'a', 'worker'))) AS wf4 \gset
SELECT mycelium.update_task(:'wf4', 's1', 'skipped');
SELECT regress.states(:'wf4');
SELECT mycelium.update_task(:'wf4', 'other', 'cancelled');
SELECT status FROM mycelium.workflows WHERE workflow_id = :'wf4';
SELECT status, total, pending, ready, running, completed, failed, skipped, cancelled, percent_done
  FROM mycelium.workflow_progress WHERE workflow_id = :'wf4';
