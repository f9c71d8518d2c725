-- Per-agent-type limits: set_agent_type_limits, and claim_tasks honouring
-- max_running and the rate across workflows and roles.
-- (Workers and claim_tasks together, and the rate over time, are tested
-- in test/t/027_agent_type_limits.pl; concurrent claims in
-- test/isolation/specs/agent_type_limits.spec.)

SELECT mycelium.register_executor('regress_lim', NULL);
SET ROLE regress_alice;
SELECT mycelium.register_executor('regress_lim_alice', NULL);
RESET ROLE;

-- arguments
SELECT regress.try($$SELECT mycelium.set_agent_type_limits(NULL, 3)$$);
SELECT regress.try($$SELECT mycelium.set_agent_type_limits('no_such_type', 3)$$);
SELECT regress.try($$SELECT mycelium.set_agent_type_limits('regress_lim', -1)$$);
SELECT regress.try($$SELECT mycelium.set_agent_type_limits('regress_lim', NULL, 0)$$);
SELECT regress.try($$SELECT mycelium.set_agent_type_limits('regress_lim', NULL, 5, NULL)$$);
SELECT regress.try($$SELECT mycelium.set_agent_type_limits('regress_lim', NULL, 5, '0 seconds')$$);
SELECT regress.try($$SELECT mycelium.set_agent_type_limits('regress_lim', NULL, 5, '-1 second')$$);
-- a refused call changed nothing
SELECT max_running, rate, rate_per FROM mycelium.executors WHERE agent_type = 'regress_lim';

-- only the registering role or an administrator sets them
SET ROLE regress_bob;
SELECT regress.try($$SELECT mycelium.set_agent_type_limits('regress_lim_alice', 1)$$);
SET ROLE regress_alice;
SELECT mycelium.set_agent_type_limits('regress_lim_alice', 1);
SET ROLE regress_admin;
SELECT mycelium.set_agent_type_limits('regress_lim_alice', 2, 10, '1 minute');
RESET ROLE;
-- the bucket holds a tenth of the rate
SELECT max_running, rate, rate_per, rate_tokens FROM mycelium.executors
 WHERE agent_type = 'regress_lim_alice';
-- without a rate, its interval is not kept
SELECT mycelium.set_agent_type_limits('regress_lim_alice', NULL);
SELECT max_running, rate, rate_per, rate_tokens FROM mycelium.executors
 WHERE agent_type = 'regress_lim_alice';
SELECT mycelium.unregister_executor('regress_lim_alice');

-- five workflows of alice and five of bob, two tasks each
CREATE TABLE regress.lim_wfs (wf uuid, owner text);
GRANT ALL ON regress.lim_wfs TO PUBLIC;
SET ROLE regress_alice;
INSERT INTO regress.lim_wfs SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'agent', 'regress_lim'),
	mycelium.task('b', 'agent', 'regress_lim'))), 'alice'
  FROM generate_series(1, 5);
SELECT count(mycelium.start_workflow(wf)) FROM regress.lim_wfs;
SET ROLE regress_bob;
INSERT INTO regress.lim_wfs SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'agent', 'regress_lim'),
	mycelium.task('b', 'agent', 'regress_lim'))), 'bob'
  FROM generate_series(1, 5);
SELECT count(mycelium.start_workflow(wf)) FROM regress.lim_wfs WHERE owner = 'bob';
RESET ROLE;

-- at most 3 running, across both roles' claims
SELECT mycelium.set_agent_type_limits('regress_lim', 3);
SET ROLE regress_alice;
SELECT count(*) FROM mycelium.claim_tasks('regress_lim', 'alice-1', 2);
SET ROLE regress_bob;
SELECT count(*) FROM mycelium.claim_tasks('regress_lim', 'bob-1', 10);
SELECT count(*) FROM mycelium.claim_tasks('regress_lim', 'bob-1', 10);
RESET ROLE;
SELECT count(*) AS running FROM mycelium.task_states
 WHERE agent_type = 'regress_lim' AND status = 'running';

-- a completed task makes room for one more
SET ROLE regress_bob;
SELECT mycelium.complete_task(workflow_id, task_id, 'bob-1', '{}')
  FROM mycelium.tasks WHERE worker_id = 'bob-1' AND status = 'running'
 ORDER BY workflow_id, task_id LIMIT 1;
SELECT count(*) FROM mycelium.claim_tasks('regress_lim', 'bob-2', 10);
SELECT count(*) FROM mycelium.claim_tasks('regress_lim', 'bob-2', 10);
-- and so does a released one
SELECT mycelium.release_task(workflow_id, task_id, 'bob-2')
  FROM mycelium.tasks WHERE worker_id = 'bob-2' AND status = 'running';
SELECT count(*) FROM mycelium.claim_tasks('regress_lim', 'bob-3', 10);
RESET ROLE;

-- a lower limit: nothing more until the running tasks drop below it
SELECT mycelium.set_agent_type_limits('regress_lim', 1);
SET ROLE regress_alice;
SELECT mycelium.complete_task(workflow_id, task_id, worker_id, '{}')
  FROM mycelium.tasks WHERE worker_id = 'alice-1' AND status = 'running';
SELECT count(*) FROM mycelium.claim_tasks('regress_lim', 'alice-2', 10);
RESET ROLE;
-- 0 holds every task back
SELECT mycelium.set_agent_type_limits('regress_lim', 0);
SET ROLE regress_bob;
SELECT mycelium.complete_task(workflow_id, task_id, worker_id, '{}')
  FROM mycelium.tasks WHERE agent_type = 'regress_lim' AND status = 'running';
SELECT count(*) FROM mycelium.claim_tasks('regress_lim', 'bob-4', 10);
RESET ROLE;

-- the rate: 40 an hour, 4 (a tenth) at once, then none until the bucket
-- refills (one every 90 s)
SELECT mycelium.set_agent_type_limits('regress_lim', NULL, 40, '1 hour');
SET ROLE regress_alice;
SELECT count(*) FROM mycelium.claim_tasks('regress_lim', 'alice-3', 3);
SET ROLE regress_bob;
SELECT count(*) FROM mycelium.claim_tasks('regress_lim', 'bob-5', 3);
SELECT count(*) FROM mycelium.claim_tasks('regress_lim', 'bob-5', 3);
RESET ROLE;
-- a new rate keeps the tokens spent (its refill is 20 an hour)
SELECT mycelium.set_agent_type_limits('regress_lim', 6, 20, '1 hour');
SET ROLE regress_admin;
SELECT count(*) FROM mycelium.claim_tasks('regress_lim', 'admin-1', 10);
RESET ROLE;
-- max_running alone: 6 less the 4 running
SELECT mycelium.set_agent_type_limits('regress_lim', 6);
SET ROLE regress_admin;
SELECT count(*) FROM mycelium.claim_tasks('regress_lim', 'admin-1', 10);
RESET ROLE;
-- lifted: every ready task can be claimed
SELECT mycelium.set_agent_type_limits('regress_lim');
SET ROLE regress_admin;
SELECT count(*) FROM mycelium.claim_tasks('regress_lim', 'admin-1', 100);
RESET ROLE;
SELECT status, count(*) FROM mycelium.task_states
 WHERE agent_type = 'regress_lim' GROUP BY status ORDER BY status;

-- one task claimed at a time: a claim goes by the running count an earlier
-- claim took, grown by what started since, a claim's or update_task's;
-- with 3 running (2 claimed, 1 set running by update_task), the limit of
-- 3 holds
SELECT mycelium.register_executor('regress_lim2', NULL);
SELECT mycelium.set_agent_type_limits('regress_lim2', 3);
SELECT mycelium.create_workflow((SELECT jsonb_agg(mycelium.task('t' || i, 'agent', 'regress_lim2'))
   FROM generate_series(1, 6) i)) AS lw \gset
SELECT mycelium.start_workflow(:'lw');
SELECT count(*) FROM mycelium.claim_tasks('regress_lim2', 'one-1', 1);
SELECT mycelium.update_task(:'lw', 't6', 'running');
SELECT count(*) FROM mycelium.claim_tasks('regress_lim2', 'one-2', 1);
SELECT count(*) FROM mycelium.claim_tasks('regress_lim2', 'one-3', 1);
SELECT count(*) AS running FROM mycelium.task_states
 WHERE agent_type = 'regress_lim2' AND status = 'running';
-- lifted, claims take what they want, and count nothing; set again, the
-- limit of 5 holds over the tasks they took (4 running: one more)
SELECT mycelium.set_agent_type_limits('regress_lim2');
SELECT count(*) FROM mycelium.claim_tasks('regress_lim2', 'one-4', 1);
SELECT mycelium.set_agent_type_limits('regress_lim2', 5);
SELECT count(*) FROM mycelium.claim_tasks('regress_lim2', 'one-5', 1);
SELECT count(*) FROM mycelium.claim_tasks('regress_lim2', 'one-6', 1);
SELECT count(*) AS running FROM mycelium.task_states
 WHERE agent_type = 'regress_lim2' AND status = 'running';
SELECT mycelium.cancel_workflow(:'lw');
SELECT mycelium.unregister_executor('regress_lim2');

-- clean up
SELECT count(mycelium.cancel_workflow(wf)) FROM regress.lim_wfs l
  JOIN mycelium.workflow_states w ON w.workflow_id = l.wf WHERE w.status = 'running';
DROP TABLE regress.lim_wfs;
SELECT mycelium.unregister_executor('regress_lim');
