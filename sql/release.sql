-- Giving claimed tasks back: release_task and release_tasks.  A release
-- makes the task ready at once without counting the attempt; only the
-- worker holding the attempt may release it; a refused call changes
-- nothing.  (Releases racing claims: test/isolation/specs/agent_release.spec;
-- the SDKs' graceful stop: clients/*/tests.)

SELECT mycelium.register_executor('regress_rel', NULL);

-- arguments
SELECT * FROM regress.try($$SELECT mycelium.release_task(NULL, 'a', 'w1')$$);
SELECT * FROM regress.try($$SELECT mycelium.release_task(gen_random_uuid(), NULL, 'w1')$$);
SELECT * FROM regress.try($$SELECT mycelium.release_task(gen_random_uuid(), 'a', NULL)$$);
SELECT * FROM regress.try($$SELECT mycelium.release_task(gen_random_uuid(), 'a', '')$$);
SELECT * FROM regress.try($$SELECT mycelium.release_task(gen_random_uuid(), 'a', repeat('w', 256))$$);
SELECT * FROM regress.try($$SELECT mycelium.release_task(gen_random_uuid(), 'a', 'w1')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.release_tasks(NULL, '{}', '{}')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.release_tasks('w1', NULL, '{}')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.release_tasks('w1', '{}', NULL)$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.release_tasks('w1', ARRAY[gen_random_uuid()], '{}')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.release_tasks('w1', ARRAY[NULL::uuid], '{a}')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.release_tasks('w1', '{{00000000-0000-0000-0000-000000000000}}', '{a}')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.release_tasks('w1',
	array_fill(gen_random_uuid(), ARRAY[10001]), array_fill('a'::text, ARRAY[10001]))$$);
-- nothing to release: an empty set
SELECT count(*) FROM mycelium.release_tasks('w1', '{}', '{}');

-- alice's workflow of three external tasks, one attempt each
SET ROLE regress_alice;
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'agent', 'regress_rel', max_attempts => 1),
	mycelium.task('b', 'agent', 'regress_rel', max_attempts => 1),
	mycelium.task('c', 'agent', 'regress_rel', max_attempts => 1),
	mycelium.task('d', 'agent', 'regress_rel', dependencies => ARRAY['a', 'b', 'c'])),
	name => 'release') AS wf \gset
SELECT mycelium.start_workflow(:'wf');
SELECT task_id, attempt FROM mycelium.claim_tasks('regress_rel', 'agent-1', 2) ORDER BY task_id;
SELECT task_id, attempt FROM mycelium.claim_tasks('regress_rel', 'agent-2', 1);
SELECT * FROM regress.counts() \gset before_

-- refused, changing nothing: not the holder, not claimed, no such task,
-- named twice, one of a batch not held
SELECT * FROM regress.try(format($$SELECT mycelium.release_task(%L, 'a', 'agent-2')$$, :'wf'));
SELECT * FROM regress.try(format($$SELECT mycelium.release_task(%L, 'd', 'agent-1')$$, :'wf'));
SELECT * FROM regress.try(format($$SELECT mycelium.release_task(%L, 'zz', 'agent-1')$$, :'wf'));
SELECT * FROM regress.try(format($$SELECT * FROM mycelium.release_tasks('agent-1', ARRAY[%L, %L]::uuid[], '{a,a}')$$, :'wf', :'wf'));
SELECT * FROM regress.try(format($$SELECT * FROM mycelium.release_tasks('agent-1', ARRAY[%L, %L]::uuid[], '{a,c}')$$, :'wf', :'wf'));
SELECT * FROM regress.try(format($$SELECT * FROM mycelium.release_tasks('agent-1', ARRAY[%L, %L]::uuid[], '{a,d}')$$, :'wf', :'wf'));
SELECT workflows = :before_workflows AND tasks = :before_tasks AND history = :before_history
	AS nothing_changed FROM regress.counts();
SELECT task_id, status, attempt, worker_id FROM mycelium.tasks
 WHERE workflow_id = :'wf' ORDER BY task_id;
RESET ROLE;

-- another role cannot release alice's tasks: it does not see the workflow
SET ROLE regress_bob;
SELECT * FROM regress.try(format($$SELECT mycelium.release_task(%L, 'a', 'agent-1')$$, :'wf'));
RESET ROLE;

-- the holder releases: ready at once, the attempt not counted, history
-- says so; the workflow's running count drops
SET ROLE regress_alice;
SELECT mycelium.release_task(:'wf', 'c', 'agent-2');
SELECT task_id, status FROM mycelium.release_tasks('agent-1', ARRAY[:'wf', :'wf']::uuid[], '{b,a}');
SELECT task_id, status, attempt, worker_id, lease_until FROM mycelium.tasks
 WHERE workflow_id = :'wf' ORDER BY task_id;
RESET ROLE;
SELECT tasks_running FROM mycelium.workflow_states WHERE workflow_id = :'wf';
SELECT h.version, i.task_id, h.status, h.attempt, h.event
  FROM mycelium.workflow_state_history h
  LEFT JOIN mycelium.task_ids i ON i.workflow_id = h.workflow_id AND i.task_no = h.task_no
 WHERE h.workflow_id = :'wf' ORDER BY h.version;
SET ROLE regress_alice;
-- released again: refused, the task is ready
SELECT * FROM regress.try(format($$SELECT mycelium.release_task(%L, 'a', 'agent-1')$$, :'wf'));

-- with max_attempts 1, a released task is claimed again and completes:
-- the release spent no attempt
SELECT task_id, attempt FROM mycelium.claim_tasks('regress_rel', 'agent-3', 3) ORDER BY task_id;
SELECT task_id, status FROM mycelium.complete_tasks('agent-3',
	ARRAY[:'wf', :'wf', :'wf']::uuid[], '{a,b,c}') ORDER BY task_id;

-- a paused workflow: its claimed task is released all the same, and not
-- claimed again until it resumes
SELECT task_id FROM mycelium.claim_tasks('regress_rel', 'agent-3', 1);
SELECT mycelium.pause_workflow(:'wf');
SELECT mycelium.release_task(:'wf', 'd', 'agent-3');
SELECT count(*) FROM mycelium.claim_tasks('regress_rel', 'agent-3', 1);
SELECT mycelium.resume_workflow(:'wf');
SELECT task_id, attempt FROM mycelium.claim_tasks('regress_rel', 'agent-3', 1);

-- a cancelled workflow: its tasks cannot be released
SELECT mycelium.cancel_workflow(:'wf', 'enough');
SELECT * FROM regress.try(format($$SELECT mycelium.release_task(%L, 'd', 'agent-3')$$, :'wf'));
SELECT status FROM mycelium.workflows WHERE workflow_id = :'wf';
RESET ROLE;
