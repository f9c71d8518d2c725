-- Cross-role access, function by function: every function of the
-- extension that takes a workflow id, template, schedule or executor name
-- refuses another role's object with the documented error (MY003 or
-- 42704 "does not exist", 42501 for executors) and changes nothing.
-- Row-level security tells roles apart by name exactly ("Regress_Bob" is
-- not regress_bob).  Tasks run only executors registered by a role with
-- the owner's privileges.  (test/t/012_security.pl has the scheduler run
-- them.)

-- every function, and that a role outside mycelium_user may call none
SELECT p.oid::regprocedure AS function
  FROM pg_proc p
 WHERE p.pronamespace = 'mycelium'::regnamespace
 ORDER BY p.oid::regprocedure::text;
SELECT count(*) AS callable_by_outsider
  FROM pg_proc p
 WHERE p.pronamespace = 'mycelium'::regnamespace
   AND has_function_privilege('regress_outsider', p.oid, 'EXECUTE');

-- state(id): everything about a workflow that a change would touch
CREATE SCHEMA sec;
CREATE FUNCTION sec.state(id uuid) RETURNS text LANGUAGE sql AS $$
	SELECT format('v%s %s %s; history %s; handoffs %s', w.version, w.status,
		(SELECT string_agg(format('%s=%s/%s/%s/%s', t.task_id, t.status, t.attempt,
								  t.worker_id, t.lease_until IS NOT NULL), ' ' ORDER BY t.task_no)
		   FROM mycelium.task_states t WHERE t.workflow_id = w.workflow_id),
		(SELECT count(*) FROM mycelium.workflow_state_history h WHERE h.workflow_id = w.workflow_id),
		(SELECT count(*) FROM mycelium.handoffs m WHERE m.workflow_id = w.workflow_id))
	  FROM mycelium.workflow_states w WHERE w.workflow_id = id
$$;
CREATE EXTENSION pg_cron;
GRANT USAGE ON SCHEMA cron TO regress_alice, regress_bob;
SELECT mycelium.register_executor('sec-external', NULL);
CREATE SCHEMA alice_code AUTHORIZATION regress_alice;

-- alice's running workflow: an external task claimed by her agent, one
-- ready, one waiting; a template and a schedule of hers
SET ROLE regress_alice;
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('claimed', 'x', 'sec-external'),
	mycelium.task('waiting', 'x', 'sec-external'),
	mycelium.task('later', 'x', 'worker', dependencies => '{claimed}')),
	name => 'alice-secret') AS alice_wf \gset
SELECT mycelium.start_workflow(:'alice_wf');
SELECT task_id FROM mycelium.claim_tasks('sec-external', 'alice-agent', 1);
SELECT mycelium.create_template('alice-tpl', jsonb_build_array(mycelium.task('t', 'x', 'external')));
SELECT mycelium.schedule_workflow('alice-job', '0 0 1 1 *', 'alice-tpl') AS alice_job \gset
RESET ROLE;
SELECT sec.state(:'alice_wf') AS before \gset
SELECT :'before' AS alice_state;

-- bob, alice's peer: every call on alice's workflow says it does not exist
SET ROLE regress_bob;
SELECT regress.try(format($$SELECT mycelium.get_workflow(%L)$$, :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.update_task(%L, 'waiting', 'completed')$$, :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.rollback_workflow(%L, 1)$$, :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.start_workflow(%L)$$, :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.execute_workflow(%L, '10 ms')$$, :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.wait_workflow(%L, '10 ms')$$, :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.pause_workflow(%L)$$, :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.resume_workflow(%L)$$, :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.cancel_workflow(%L, 'bob was here')$$, :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, '[{"task_id": "bobs", "agent_id": "x", "agent_type": "worker"}]')$$,
						  :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.send_handoff(%L, mycelium.create_handoff('b', 'worker', 'x', 'sec-external', 'do it'))$$,
						  :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.workflow_graph(%L)$$, :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.workflow_graph(%L, 'gantt')$$, :'alice_wf'));
SELECT count(*) AS history_rows FROM mycelium.workflow_history(:'alice_wf');
SELECT count(*) AS timeline_rows FROM mycelium.workflow_timeline(:'alice_wf');
SELECT count(*) AS handoff_rows FROM mycelium.handoffs WHERE workflow_id = :'alice_wf';
-- ... nor can bob's agent claim, heartbeat, complete, fail or release alice's tasks,
-- even with her worker id
SELECT count(*) AS claimed FROM mycelium.claim_tasks('sec-external', 'bob-agent', 100);
SELECT count(*) AS claimed FROM mycelium.claim_tasks('sec-external', 'alice-agent', 100);
SELECT regress.try(format($$SELECT mycelium.heartbeat(%L, 'claimed', 'alice-agent', '{"p": 1}', '1 hour')$$, :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.complete_task(%L, 'claimed', 'alice-agent', '"forged"')$$, :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.fail_task(%L, 'claimed', 'alice-agent', 'forged')$$, :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.release_task(%L, 'claimed', 'alice-agent')$$, :'alice_wf'));
SELECT regress.try(format($$SELECT count(*) FROM mycelium.release_tasks('alice-agent', ARRAY[%L]::uuid[], '{claimed}')$$, :'alice_wf'));
-- ... nor use, drop, schedule, run or unschedule her template and schedule
SELECT regress.try($$SELECT mycelium.start_from_template('alice-tpl')$$);
SELECT regress.try($$SELECT mycelium.drop_template('alice-tpl')$$);
SELECT regress.try($$SELECT mycelium.schedule_workflow('bob-job', '0 0 1 1 *', 'alice-tpl')$$);
SELECT regress.try($$SELECT mycelium.run_schedule('alice-job')$$);
SELECT regress.try($$SELECT mycelium.unschedule_workflow('alice-job')$$);
SELECT regress.try(format($$SELECT cron.unschedule(%s)$$, :alice_job));
SELECT count(*) AS templates_seen FROM mycelium.templates;
SELECT count(*) AS schedules_seen FROM mycelium.schedules;
-- bob's own template of the same name is his, and starting it makes his
-- workflow, not alice's
SELECT mycelium.create_template('alice-tpl', jsonb_build_array(mycelium.task('t', 'x', 'external')));
SELECT mycelium.start_from_template('alice-tpl') AS bobs_wf \gset
SELECT owner FROM mycelium.workflows WHERE workflow_id = :'bobs_wf';
SELECT mycelium.cancel_workflow(:'bobs_wf');
RESET ROLE;

-- nothing of alice's changed
SELECT sec.state(:'alice_wf') = :'before' AS alice_unchanged;
SELECT owner, template, runs FROM mycelium.schedules WHERE job_name = 'alice-job';
SELECT username, command FROM cron.job WHERE jobid = :alice_job;
SELECT owner, name FROM mycelium.templates ORDER BY owner, name;

-- a role whose name differs from bob's only in case sees none of bob's
-- rows (before the fix, to_regrole('Regress_Bob') found regress_bob),
-- and sees its own
CREATE ROLE "Regress_Bob" LOGIN IN ROLE mycelium_user;
CREATE ROLE "regress bob.x" LOGIN IN ROLE mycelium_user;
SET ROLE regress_bob;
SELECT count(*) > 0 AS bob_has_workflows FROM mycelium.workflows;
SET ROLE "Regress_Bob";
SELECT count(*) AS seen FROM mycelium.workflows;
SELECT count(*) AS seen FROM mycelium.task_states;
SELECT count(*) AS seen FROM mycelium.workflow_state_history;
SELECT count(*) AS seen FROM mycelium.templates;
SELECT mycelium.create_workflow('[]', name => 'mixed-case') IS NOT NULL AS created;
SELECT name, owner FROM mycelium.workflows;
SET ROLE "regress bob.x";
SELECT mycelium.create_workflow('[]', name => 'dotted') IS NOT NULL AS created;
SELECT name, owner FROM mycelium.workflows;
RESET ROLE;

-- executors: a workflow runs only executors registered by its owner or by
-- a role with the owner's privileges (here the superuser's 'worker')
SET ROLE regress_alice;
CREATE FUNCTION alice_code.exec(ctx jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT ctx';
GRANT USAGE ON SCHEMA alice_code TO PUBLIC;
SELECT mycelium.register_executor('alice-code', 'alice_code.exec(jsonb)');
SET ROLE regress_bob;
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('mine', 'x', 'worker'), mycelium.task('hers', 'x', 'alice-code')))$$);
SELECT regress.try($$SELECT mycelium.create_template('uses-alice',
	jsonb_build_array(mycelium.task('hers', 'x', 'alice-code')))$$);
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('mine', 'x', 'worker'))) AS bob_wf \gset
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, jsonb_build_array(mycelium.task('hers', 'x', 'alice-code')))$$,
						  :'bob_wf'));
-- an administrator controls bob's workflow but cannot add its own code to it
RESET ROLE;
CREATE FUNCTION regress.admin_exec(ctx jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT ctx';
GRANT EXECUTE ON FUNCTION regress.admin_exec(jsonb) TO PUBLIC;
SET ROLE regress_admin;
SELECT mycelium.register_executor('admin-code', 'regress.admin_exec(jsonb)');
SELECT regress.try(format($$SELECT mycelium.add_tasks(%L, jsonb_build_array(mycelium.task('admins', 'x', 'admin-code')))$$,
						  :'bob_wf'));
-- ... but may add tasks of agent types bob can use
SELECT mycelium.add_tasks(:'bob_wf', jsonb_build_array(mycelium.task('admins', 'x', 'worker')));
-- external agent types run no code in the database: anyone's may be used
SELECT mycelium.register_executor('admin-external', NULL);
SET ROLE regress_bob;
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('ext', 'x', 'admin-external'))) IS NOT NULL AS created;
SELECT mycelium.cancel_workflow(:'bob_wf');
RESET ROLE;

-- the registration is checked again when the task runs: bob defines a
-- workflow with his own agent type, which alice takes over before it runs
-- (here in the calling session; the TAP test has a worker run it)
CREATE TABLE sec.stolen (who name);
GRANT INSERT ON sec.stolen TO PUBLIC;
GRANT USAGE ON SCHEMA sec TO PUBLIC;
CREATE FUNCTION sec.steal(ctx jsonb) RETURNS jsonb LANGUAGE sql AS
	$$INSERT INTO sec.stolen VALUES (current_user) RETURNING to_jsonb(who)$$;
GRANT EXECUTE ON FUNCTION sec.steal(jsonb) TO PUBLIC;
BEGIN;
SET ROLE regress_bob;
SELECT mycelium.register_executor('bob-code', 'regress.echo(jsonb)');
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('t', 'x', 'bob-code', max_attempts => 1, allow_failure => true))) AS swap_wf \gset
SELECT mycelium.unregister_executor('bob-code');
SET ROLE regress_alice;
SELECT mycelium.register_executor('bob-code', 'sec.steal(jsonb)');
SET ROLE regress_bob;
SELECT mycelium.execute_workflow(:'swap_wf')->'tasks'->'t' AS swapped_task;
RESET ROLE;
SELECT count(*) AS stolen FROM sec.stolen;
ROLLBACK;

-- a role may register only functions it may execute: not a SECURITY
-- DEFINER function of the superuser's it was not granted
CREATE FUNCTION sec.definer(ctx jsonb) RETURNS jsonb LANGUAGE sql SECURITY DEFINER AS 'SELECT ctx';
REVOKE EXECUTE ON FUNCTION sec.definer(jsonb) FROM PUBLIC;
SET ROLE regress_alice;
SELECT regress.try($$SELECT mycelium.register_executor('definer', 'sec.definer(jsonb)')$$);
RESET ROLE;

-- clean up
SET ROLE regress_alice;
SELECT mycelium.cancel_workflow(:'alice_wf');
SELECT mycelium.unschedule_workflow('alice-job');
SELECT mycelium.drop_template('alice-tpl');
SELECT mycelium.unregister_executor('alice-code');
SET ROLE regress_bob;
SELECT mycelium.drop_template('alice-tpl');
SET ROLE regress_admin;
SELECT mycelium.unregister_executor('admin-code');
SELECT mycelium.unregister_executor('admin-external');
RESET ROLE;
DROP EXTENSION pg_cron;
DROP SCHEMA alice_code CASCADE;
SELECT mycelium.unregister_executor('sec-external');
DROP FUNCTION regress.admin_exec(jsonb);
DROP SCHEMA sec CASCADE;
