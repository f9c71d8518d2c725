-- Workflow metadata and caller-chosen ids: metadata is stored and shown;
-- a workflow_id given by the caller makes create_workflow and
-- start_from_template idempotent (the same id and definition return the
-- existing workflow, a different definition is refused).

SET ROLE regress_alice;

-- metadata is stored as given and shown by get_workflow and the view
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker')),
	name => 'meta', metadata => '{"team": "search", "ticket": 42}') AS meta_wf \gset
SELECT (mycelium.get_workflow(:'meta_wf'))->'metadata' AS metadata;
SELECT name, metadata FROM mycelium.workflows WHERE workflow_id = :'meta_wf';
-- left out: an empty object
SELECT mycelium.create_workflow('[]') AS plain_wf \gset
SELECT metadata, definition_hash IS NULL AS no_hash FROM mycelium.workflow_states
 WHERE workflow_id = :'plain_wf';
SELECT regress.try($$SELECT mycelium.create_workflow('[]', metadata => '[1, 2]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[]', metadata => '"text"')$$);
RESET ROLE;
SET mycelium.max_payload_size = '1kB';
SELECT regress.try($$SELECT mycelium.create_workflow('[]', metadata => jsonb_build_object('k', repeat('x', 2000)))$$);
RESET mycelium.max_payload_size;
SET ROLE regress_alice;

-- a caller-chosen id: the workflow gets it
SELECT mycelium.create_workflow(
	'[{"task_id": "a", "agent_id": "x", "agent_type": "worker"},
	  {"task_id": "b", "agent_id": "x", "agent_type": "worker", "dependencies": ["a"]}]',
	context => '{"k": 1}', name => 'chosen', metadata => '{"m": true}',
	workflow_id => '00000000-0000-4000-8000-000000000029');
SELECT * FROM regress.counts() AS before \gset b_
-- the same definition again returns it and stores nothing; key order and
-- white space of the JSON do not matter
SELECT mycelium.create_workflow(
	'[{"agent_type": "worker", "agent_id": "x", "task_id": "a"},
	  {"dependencies": ["a"], "task_id":"b","agent_id":"x","agent_type":"worker"}]',
	context => '{"k":1}', name => 'chosen', metadata => '{"m":true}',
	workflow_id => '00000000-0000-4000-8000-000000000029') AS same_id;
SELECT * FROM regress.counts() AS after \gset a_
SELECT :b_workflows = :a_workflows AND :b_tasks = :a_tasks
	   AND :b_history = :a_history AS nothing_stored;
SELECT count(*) AS workflows_with_id, min(name) AS name FROM mycelium.workflows
 WHERE workflow_id = '00000000-0000-4000-8000-000000000029';
-- any other difference is refused (SQLSTATE 42710), changing nothing:
-- tasks, a field given its default value, context, variables, metadata,
-- name, max_parallel_tasks
SELECT regress.try($$SELECT mycelium.create_workflow(
	'[{"task_id": "a", "agent_id": "x", "agent_type": "worker"}]',
	context => '{"k": 1}', name => 'chosen', metadata => '{"m": true}',
	workflow_id => '00000000-0000-4000-8000-000000000029')$$);
SELECT regress.try($$SELECT mycelium.create_workflow(
	'[{"task_id": "a", "agent_id": "x", "agent_type": "worker", "allow_failure": false},
	  {"task_id": "b", "agent_id": "x", "agent_type": "worker", "dependencies": ["a"]}]',
	context => '{"k": 1}', name => 'chosen', metadata => '{"m": true}',
	workflow_id => '00000000-0000-4000-8000-000000000029')$$);
SELECT regress.try($$SELECT mycelium.create_workflow(
	'[{"task_id": "a", "agent_id": "x", "agent_type": "worker"},
	  {"task_id": "b", "agent_id": "x", "agent_type": "worker", "dependencies": ["a"]}]',
	context => '{"k": 2}', name => 'chosen', metadata => '{"m": true}',
	workflow_id => '00000000-0000-4000-8000-000000000029')$$);
SELECT regress.try($$SELECT mycelium.create_workflow(
	'[{"task_id": "a", "agent_id": "x", "agent_type": "worker"},
	  {"task_id": "b", "agent_id": "x", "agent_type": "worker", "dependencies": ["a"]}]',
	context => '{"k": 1}', variables => '{"v": 1}', name => 'chosen', metadata => '{"m": true}',
	workflow_id => '00000000-0000-4000-8000-000000000029')$$);
SELECT regress.try($$SELECT mycelium.create_workflow(
	'[{"task_id": "a", "agent_id": "x", "agent_type": "worker"},
	  {"task_id": "b", "agent_id": "x", "agent_type": "worker", "dependencies": ["a"]}]',
	context => '{"k": 1}', name => 'chosen', metadata => '{"m": false}',
	workflow_id => '00000000-0000-4000-8000-000000000029')$$);
SELECT regress.try($$SELECT mycelium.create_workflow(
	'[{"task_id": "a", "agent_id": "x", "agent_type": "worker"},
	  {"task_id": "b", "agent_id": "x", "agent_type": "worker", "dependencies": ["a"]}]',
	context => '{"k": 1}', metadata => '{"m": true}',
	workflow_id => '00000000-0000-4000-8000-000000000029')$$);
SELECT regress.try($$SELECT mycelium.create_workflow(
	'[{"task_id": "a", "agent_id": "x", "agent_type": "worker"},
	  {"task_id": "b", "agent_id": "x", "agent_type": "worker", "dependencies": ["a"]}]',
	context => '{"k": 1}', name => 'chosen', metadata => '{"m": true}', max_parallel_tasks => 11,
	workflow_id => '00000000-0000-4000-8000-000000000029')$$);
-- an invalid definition is an error before the id is looked at
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a"}]',
	workflow_id => '00000000-0000-4000-8000-000000000029')$$);
SELECT * FROM regress.counts() AS after \gset a_
SELECT :b_workflows = :a_workflows AND :b_tasks = :a_tasks
	   AND :b_history = :a_history AS nothing_stored;
-- the id of a workflow created without one cannot be taken
SELECT regress.try(format($$SELECT mycelium.create_workflow('[]', workflow_id => %L)$$, :'plain_wf'));
-- nor another role's, whatever the definition
SET ROLE regress_bob;
SELECT regress.try($$SELECT mycelium.create_workflow(
	'[{"task_id": "a", "agent_id": "x", "agent_type": "worker"},
	  {"task_id": "b", "agent_id": "x", "agent_type": "worker", "dependencies": ["a"]}]',
	context => '{"k": 1}', name => 'chosen', metadata => '{"m": true}',
	workflow_id => '00000000-0000-4000-8000-000000000029')$$);
SET ROLE regress_alice;

-- start_from_template: metadata, and an id that starts the workflow once
SELECT mycelium.create_template('ids', jsonb_build_array(mycelium.task('a', 'x', 'external')),
	variables => '{"env": "test"}');
SELECT mycelium.start_from_template('ids', '{"run": 1}', metadata => '{"by": "cron"}',
	workflow_id => '00000000-0000-4000-8000-000000000030');
SELECT name, status, version, metadata FROM mycelium.workflows
 WHERE workflow_id = '00000000-0000-4000-8000-000000000030';
SELECT mycelium.start_from_template('ids', '{"run": 1}', metadata => '{"by": "cron"}',
	workflow_id => '00000000-0000-4000-8000-000000000030') AS same_id;
-- not started a second time: still at its version
SELECT status, version FROM mycelium.workflows
 WHERE workflow_id = '00000000-0000-4000-8000-000000000030';
SELECT regress.try($$SELECT mycelium.start_from_template('ids', '{"run": 2}', metadata => '{"by": "cron"}',
	workflow_id => '00000000-0000-4000-8000-000000000030')$$);
SELECT regress.try($$SELECT mycelium.start_from_template('ids', '{"run": 1}', metadata => '"x"')$$);
SELECT mycelium.cancel_workflow('00000000-0000-4000-8000-000000000030');
SELECT mycelium.drop_template('ids');
RESET ROLE;
