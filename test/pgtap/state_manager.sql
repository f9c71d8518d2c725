-- pgTAP scenario: the state manager keeps a consecutive version per change,
-- a history entry for every task a change touched, and can roll a workflow
-- back to any earlier version and forward again.
BEGIN;
SELECT plan(21);

SELECT mycelium.register_executor('tap-worker', NULL);

CREATE TEMP TABLE wf AS
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('extract', 'e', 'tap-worker'),
	mycelium.task('transform', 't', 'tap-worker', dependencies => '{extract}'),
	mycelium.task('load', 'l', 'tap-worker', dependencies => '{transform}'))) AS id;

CREATE FUNCTION pg_temp.status(task text) RETURNS text LANGUAGE sql AS $$
	SELECT status::text FROM mycelium.tasks
	 WHERE workflow_id = (SELECT id FROM wf) AND task_id = task
$$;
CREATE FUNCTION pg_temp.version() RETURNS bigint LANGUAGE sql AS $$
	SELECT version FROM mycelium.workflows WHERE workflow_id = (SELECT id FROM wf)
$$;

SELECT is(pg_temp.version(), 1::bigint, 'a new workflow is at version 1');
SELECT is(pg_temp.status('extract'), 'ready', 'a task without dependencies starts ready');
SELECT is(pg_temp.status('transform'), 'pending', 'a task with dependencies starts pending');

SELECT is(mycelium.update_task(id, 'extract', 'running'), 2::bigint, 'each change returns the next version') FROM wf;
SELECT is(mycelium.update_task(id, 'extract', 'completed', '{"rows": 10}'), 3::bigint, 'and the next') FROM wf;
SELECT is(pg_temp.status('transform'), 'ready', 'completing a dependency makes its dependent ready');
SELECT mycelium.update_task(id, 'transform', 'running') FROM wf;
SELECT mycelium.update_task(id, 'transform', 'completed', '{"rows": 9}') FROM wf;
SELECT mycelium.update_task(id, 'load', 'running') FROM wf;
SELECT mycelium.update_task(id, 'load', 'completed', '{"rows": 9}') FROM wf;

SELECT is((SELECT status::text FROM mycelium.workflows WHERE workflow_id = (SELECT id FROM wf)),
		  'completed', 'the workflow completes with its last task');
SELECT is(pg_temp.version(), 7::bigint, 'seven changes, seven versions');
SELECT results_eq(
	$$SELECT DISTINCT version FROM mycelium.workflow_history((SELECT id FROM wf)) ORDER BY 1$$,
	$$SELECT generate_series(1, 7)::bigint$$,
	'history holds every version, consecutively');

-- back to version 3: extract done, transform ready, load pending
SELECT is(mycelium.rollback_workflow(id, 3), 8::bigint, 'a rollback is a new version') FROM wf;
SELECT is(pg_temp.status('extract'), 'completed', 'rollback keeps what was done at that version');
SELECT is(pg_temp.status('transform'), 'ready', 'rollback makes ready what was ready then');
SELECT is(pg_temp.status('load'), 'pending', 'rollback makes pending what was pending then');
SELECT is((SELECT result FROM mycelium.tasks WHERE workflow_id = (SELECT id FROM wf) AND task_id = 'transform'),
		  NULL, 'rollback clears results produced after that version');
SELECT is((SELECT status::text FROM mycelium.workflows WHERE workflow_id = (SELECT id FROM wf)),
		  'pending', 'the workflow returns to its status at that version');

-- run again from there, differently
SELECT mycelium.update_task(id, 'transform', 'running') FROM wf;
SELECT mycelium.update_task(id, 'transform', 'failed', NULL, 'bad input') FROM wf;
SELECT is((SELECT status::text FROM mycelium.workflows WHERE workflow_id = (SELECT id FROM wf)),
		  'failed', 'a failure after the rollback fails the workflow');
SELECT is(pg_temp.status('load'), 'skipped', 'and skips what had not run');

-- and forward to version 7 again, where everything had completed
SELECT is(mycelium.rollback_workflow(id, 7), 11::bigint, 'rolling forward is a rollback too') FROM wf;
SELECT is(pg_temp.status('transform'), 'completed', 'rolling forward restores completed tasks');
SELECT is((SELECT result FROM mycelium.tasks WHERE workflow_id = (SELECT id FROM wf) AND task_id = 'load'),
		  '{"rows": 9}'::jsonb, 'and their results');
SELECT is((SELECT status::text FROM mycelium.workflows WHERE workflow_id = (SELECT id FROM wf)),
		  'completed', 'and the workflow status');

SELECT * FROM finish();
ROLLBACK;
