-- Deleting workflows: delete_workflow removes every row of one workflow,
-- refused while its tasks may run; purge_workflows removes finished
-- workflows older than an age, only the caller's unless an administrator
-- calls it; a superuser's plain DELETE of workflow_states leaves no
-- orphan row either.

-- regress.rows_of(id): a workflow's rows in each catalog table
CREATE FUNCTION regress.rows_of(id uuid, OUT workflows bigint, OUT tasks bigint,
	OUT task_ids bigint, OUT history bigint, OUT handoffs bigint)
LANGUAGE sql AS $$
	SELECT (SELECT count(*) FROM mycelium.workflow_states WHERE workflow_id = id),
		   (SELECT count(*) FROM mycelium.task_states WHERE workflow_id = id),
		   (SELECT count(*) FROM mycelium.task_ids WHERE workflow_id = id),
		   (SELECT count(*) FROM mycelium.workflow_state_history WHERE workflow_id = id),
		   (SELECT count(*) FROM mycelium.handoffs WHERE workflow_id = id)
$$;

SET ROLE regress_alice;
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'external'),
	mycelium.task('b', 'y', 'external', dependencies => '{a}')), name => 'doomed') AS doomed \gset
SELECT mycelium.send_handoff(:'doomed', mycelium.create_handoff('x', 'external', 'y', 'external', 'next'))
	IS NOT NULL AS sent;
RESET ROLE;
SELECT * FROM regress.rows_of(:'doomed');

-- a running workflow is refused (SQLSTATE 55006), and so is a cancelled
-- one while a task of it still runs; nothing changes
SET ROLE regress_alice;
SELECT mycelium.start_workflow(:'doomed') > 0 AS started;
SELECT regress.try(format($$SELECT mycelium.delete_workflow(%L)$$, :'doomed'));
SELECT task_id FROM mycelium.claim_tasks('external', 'agent-r');
SELECT mycelium.pause_workflow(:'doomed') > 0 AS paused;
SELECT regress.try(format($$SELECT mycelium.delete_workflow(%L)$$, :'doomed'));
-- another role's workflow does not exist to bob
SET ROLE regress_bob;
SELECT regress.try(format($$SELECT mycelium.delete_workflow(%L)$$, :'doomed'));
-- the superuser's DELETE is refused by the trigger too
RESET ROLE;
SELECT regress.try(format($$DELETE FROM mycelium.workflow_states WHERE workflow_id = %L$$, :'doomed'));
SELECT * FROM regress.rows_of(:'doomed');
-- nobody else writes the tables
SET ROLE regress_alice;
SELECT regress.try(format($$DELETE FROM mycelium.workflow_states WHERE workflow_id = %L$$, :'doomed'));

-- once its task has ended, the paused workflow goes, with all its rows
SELECT mycelium.fail_task(:'doomed', 'a', 'agent-r', 'gave up');
SELECT mycelium.delete_workflow(:'doomed');
RESET ROLE;
SELECT * FROM regress.rows_of(:'doomed');
SET ROLE regress_alice;
SELECT regress.try(format($$SELECT mycelium.delete_workflow(%L)$$, :'doomed'));
SELECT regress.try($$SELECT mycelium.delete_workflow(NULL)$$);

-- an administrator deletes anyone's
SELECT mycelium.create_workflow('[]', name => 'alice-pending') AS pending_wf \gset
SET ROLE regress_admin;
SELECT mycelium.delete_workflow(:'pending_wf');
RESET ROLE;
SELECT * FROM regress.rows_of(:'pending_wf');

-- a superuser's DELETE of workflow_states alone takes the other rows too
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'external'))) AS su_wf \gset
DELETE FROM mycelium.workflow_states WHERE workflow_id = :'su_wf';
SELECT * FROM regress.rows_of(:'su_wf');

-- purge_workflows: finished workflows of the caller only (first, the
-- ones earlier tests left, so that the counts below are these tests')
SET ROLE regress_alice;
CALL mycelium.purge_workflows('0') \gset
SET ROLE regress_bob;
CALL mycelium.purge_workflows('0') \gset
SET ROLE regress_alice;
CREATE TEMP TABLE alice_wfs AS
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'external'),
			mycelium.task('b', 'x', 'external')), name => 'purge-me') AS id
  FROM generate_series(1, 5);
SELECT count(mycelium.cancel_workflow(id)) FROM alice_wfs;
SELECT mycelium.create_workflow('[]', name => 'alice-keep') AS alice_keep \gset
SET ROLE regress_bob;
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'external')),
	name => 'bob-finished') AS bob_wf \gset
SELECT mycelium.cancel_workflow(:'bob_wf');
SET ROLE regress_alice;
-- too young: nothing; then in batches of 2
CALL mycelium.purge_workflows('1 hour');
BEGIN;
CALL mycelium.purge_workflows('0', batch_size => 2);
SELECT relname, seq_scan FROM pg_stat_xact_user_tables
 WHERE schemaname = 'mycelium' AND relname IN ('workflow_states', 'task_states') ORDER BY relname;
COMMIT;
SELECT count(*) AS alice_purge_me_left FROM mycelium.workflows WHERE name = 'purge-me';
RESET ROLE;
SELECT sum(tasks) AS tasks_left, sum(task_ids) AS task_ids_left, sum(history) AS history_left
  FROM alice_wfs, regress.rows_of(id);
-- a pending workflow and bob's finished one stay
SELECT workflows FROM regress.rows_of(:'alice_keep');
SELECT workflows FROM regress.rows_of(:'bob_wf');
-- statuses: only finished ones, as chosen
SET ROLE regress_bob;
CALL mycelium.purge_workflows('0', statuses => '{failed}');
SELECT count(*) AS bob_left FROM mycelium.workflows WHERE workflow_id = :'bob_wf';
-- an administrator's purge reaches every role's (rolled back here, to
-- leave the other tests' workflows alone)
SET ROLE regress_admin;
BEGIN;
CALL mycelium.purge_workflows('0', statuses => '{cancelled}') \gset
SELECT :purged >= 1 AS purged_some;
SELECT count(*) AS bob_left FROM mycelium.workflows WHERE workflow_id = :'bob_wf';
ROLLBACK;
SET ROLE regress_bob;
CALL mycelium.purge_workflows('0');
SELECT count(*) AS bob_left FROM mycelium.workflows WHERE workflow_id = :'bob_wf';
-- bad arguments
SELECT regress.try($$CALL mycelium.purge_workflows('0', statuses => '{running}')$$);
SELECT regress.try($$CALL mycelium.purge_workflows('0', statuses => '{completed,paused}')$$);
SELECT regress.try($$CALL mycelium.purge_workflows('0', statuses => '{completed,NULL}')$$);
SELECT regress.try($$CALL mycelium.purge_workflows('0', statuses => NULL)$$);
SELECT regress.try($$CALL mycelium.purge_workflows(NULL)$$);
SELECT regress.try($$CALL mycelium.purge_workflows('0', batch_size => 0)$$);
SELECT regress.try($$CALL mycelium.purge_workflows('0', batch_size => NULL)$$);
RESET ROLE;
-- the trigger function is a trigger only
SELECT regress.try($$SELECT mycelium.workflows_deleted()$$);
