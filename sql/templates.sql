-- Workflow templates: created and checked like create_workflow, kept per
-- role, started with variables merged over their defaults.

SET ROLE regress_alice;
SELECT mycelium.create_template('nightly', jsonb_build_array(
	mycelium.task('extract', 'e', 'worker'),
	mycelium.task('clean', 'c', 'worker', dependencies => '{extract}'),
	mycelium.task('enrich', 'n', 'worker', dependencies => '{extract}'),
	mycelium.task('load', 'l', 'worker', dependencies => '{clean,enrich}')),
	context => '{"goal": "refresh"}', variables => '{"region": "eu", "depth": 1}',
	max_parallel_tasks => 2, description => 'the nightly refresh');
SELECT name, owner, description, task_count, variables, max_parallel_tasks FROM mycelium.templates;

-- names belong to their owner: bob sees none of alice's and may use the same name
SET ROLE regress_bob;
SELECT count(*) FROM mycelium.templates;
SELECT count(*) FROM mycelium.workflow_templates;
SELECT mycelium.create_template('nightly', jsonb_build_array(mycelium.task('only', 'o', 'worker')));
SELECT name, owner, task_count, variables FROM mycelium.templates;
SET ROLE regress_admin;
SELECT name, owner, task_count FROM mycelium.templates ORDER BY owner;

-- starting: the workflow is named after the template, owned by the
-- caller, and its executors see the merged variables (its status is read
-- before the commit, when the scheduler may take it)
SET ROLE regress_alice;
BEGIN;
SELECT mycelium.start_from_template('nightly', '{"depth": 2, "extra": true}') AS wf \gset
SELECT name, owner, status FROM mycelium.workflows WHERE workflow_id = :'wf';
COMMIT;
SELECT mycelium.wait_workflow(:'wf', '60 s')->>'status' AS status;
SELECT result->'variables' AS variables, result->'workflow_context' AS context
  FROM mycelium.tasks WHERE workflow_id = :'wf' AND task_id = 'load';
SELECT max_parallel_tasks, task_count FROM mycelium.workflows WHERE workflow_id = :'wf';
-- without variables: the template's defaults
SELECT mycelium.start_from_template('nightly') AS wf2 \gset
SELECT variables FROM mycelium.workflow_states WHERE workflow_id = :'wf2';
SELECT mycelium.wait_workflow(:'wf2', '60 s')->>'status' AS status;

-- refused, storing nothing
SELECT count(*) AS templates_before FROM mycelium.workflow_templates \gset
SELECT regress.try($$SELECT mycelium.create_template('nightly', '[]')$$);
SELECT regress.try($$SELECT mycelium.create_template('loop', jsonb_build_array(
	mycelium.task('a', 'x', 'worker', dependencies => '{b}'),
	mycelium.task('b', 'x', 'worker', dependencies => '{a}')))$$);
SELECT regress.try($$SELECT mycelium.create_template('ghost', jsonb_build_array(
	mycelium.task('a', 'x', 'nobody')))$$);
SELECT regress.try($$SELECT mycelium.create_template('bad', '{"not": "an array"}')$$);
SELECT regress.try($$SELECT mycelium.create_template('bad', '[]', context => '[1]')$$);
SELECT regress.try($$SELECT mycelium.create_template('bad', '[]', max_parallel_tasks => 0)$$);
SELECT regress.try($$SELECT mycelium.create_template('', '[]')$$);
SELECT regress.try($$SELECT mycelium.create_template(NULL, '[]')$$);
SELECT regress.try($$SELECT mycelium.create_template('bad', NULL)$$);
SELECT regress.try($$SELECT mycelium.create_template('bad', '[]', max_parallel_tasks => NULL)$$);
SELECT count(*) = :templates_before AS nothing_stored FROM mycelium.workflow_templates;
SELECT regress.try($$SELECT mycelium.start_from_template('missing')$$);
SELECT regress.try($$SELECT mycelium.start_from_template('nightly', '"scalar"')$$);
SELECT regress.try($$SELECT mycelium.start_from_template(NULL)$$);
-- an agent type unregistered since: checked again at start
SELECT mycelium.create_template('fragile', jsonb_build_array(mycelium.task('a', 'x', 'worker')));
RESET ROLE;
SELECT mycelium.register_executor('short_lived', 'regress.echo(jsonb)');
SET ROLE regress_alice;
SELECT mycelium.create_template('gone', jsonb_build_array(mycelium.task('a', 'x', 'short_lived')));
RESET ROLE;
SELECT mycelium.unregister_executor('short_lived');
SET ROLE regress_alice;
SELECT regress.try($$SELECT mycelium.start_from_template('gone')$$);

-- dropping: each role its own
SET ROLE regress_bob;
SELECT mycelium.drop_template('nightly');
SELECT regress.try($$SELECT mycelium.drop_template('nightly')$$);
SET ROLE regress_alice;
SELECT name FROM mycelium.templates ORDER BY name;
SELECT mycelium.drop_template('fragile');
SELECT mycelium.drop_template('gone');
RESET ROLE;
SET ROLE regress_alice;
SELECT mycelium.drop_template('nightly');
RESET ROLE;
