-- External agents: claim_tasks, heartbeat, complete_task, complete_tasks and
-- fail_task.
-- (Leases that lapse are tested in test/t/011_external_agents.pl, claims
-- and completions racing others in test/isolation/specs/agent_*.spec.)

SELECT mycelium.register_executor('regress_ext', NULL);
SELECT mycelium.register_executor('regress_strict', NULL,
	'{"type": "object", "required": ["answer"]}');
GRANT EXECUTE ON FUNCTION regress.echo(jsonb) TO regress_alice;

-- arguments
SELECT * FROM regress.try($$SELECT * FROM mycelium.claim_tasks('no_such_type', 'w1')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.claim_tasks('worker', 'w1')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.claim_tasks(NULL, 'w1')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.claim_tasks('regress_ext', NULL)$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.claim_tasks('regress_ext', '')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.claim_tasks('regress_ext', repeat('w', 256))$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.claim_tasks('regress_ext', 'w1', 0)$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.claim_tasks('regress_ext', 'w1', 10001)$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.claim_tasks('regress_ext', 'w1', NULL)$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.claim_tasks('regress_ext', 'w1', 1, '0 seconds')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.claim_tasks('regress_ext', 'w1', 1, '-1 hour')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.claim_tasks('regress_ext', 'w1', 1, NULL)$$);
SELECT * FROM regress.try($$SELECT mycelium.heartbeat(NULL, 'a', 'w1')$$);
SELECT * FROM regress.try($$SELECT mycelium.complete_task(gen_random_uuid(), NULL, 'w1', '{}')$$);
SELECT * FROM regress.try($$SELECT mycelium.fail_task(gen_random_uuid(), 'a', 'w1', NULL)$$);
SELECT * FROM regress.try($$SELECT mycelium.heartbeat(gen_random_uuid(), 'a', 'w1', NULL, '0 s')$$);
SELECT * FROM regress.try($$SELECT mycelium.complete_task(gen_random_uuid(), 'a', 'w1', '{}')$$);

-- nothing to claim: an empty set, not an error
SELECT count(*) FROM mycelium.claim_tasks('regress_ext', 'w1', 5);

-- a mixed workflow: fn -> (ext1, ext2) -> fn, owned by alice
SET ROLE regress_alice;
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('first', 'db', 'worker', input => '{"n": 1}'),
	mycelium.task('ext1', 'agent', 'regress_ext', dependencies => ARRAY['first'],
		initial_delay => 0, max_attempts => 2),
	mycelium.task('ext2', 'agent', 'regress_ext', dependencies => ARRAY['first']),
	mycelium.task('last', 'db', 'worker', dependencies => ARRAY['ext1', 'ext2'])),
	name => 'mixed') AS wf \gset
SELECT mycelium.start_workflow(:'wf');
RESET ROLE;
-- wait for the function task, which releases the external ones
CREATE FUNCTION regress.wait_while_pending(wf uuid, task text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..600 LOOP
		EXIT WHEN (SELECT status FROM mycelium.tasks t
					WHERE t.workflow_id = wf AND t.task_id = task) <> 'pending';
		PERFORM pg_sleep(0.05);
	END LOOP;
END;
$$;
SELECT regress.wait_while_pending(:'wf', 'ext1');
SELECT task_id, status FROM mycelium.tasks WHERE workflow_id = :'wf' ORDER BY task_id;

-- another role sees nothing to claim, and cannot act on alice's tasks
SET ROLE regress_bob;
SELECT count(*) FROM mycelium.claim_tasks('regress_ext', 'bob', 5);
SELECT * FROM regress.try(format($$SELECT mycelium.fail_task(%L, 'ext1', 'bob', 'x')$$, :'wf'));
RESET ROLE;

-- alice's agent claims one; its ctx carries the function task's result
-- and the handoff message sent to its agent
SET ROLE regress_alice;
SELECT mycelium.send_handoff(:'wf', mycelium.create_handoff('db', 'worker',
	'agent', 'regress_ext', 'summarize the findings')) IS NOT NULL AS sent;
SELECT task_id, attempt, lease_until > now() + interval '4 minutes' AS leased,
	   ctx->'task'->>'agent_type' AS agent_type,
	   ctx->'previous_results'->0->'result'->'task'->'input' AS dependency_saw,
	   ctx->'handoffs'->0->'context'->>'task_description' AS handoff
  FROM mycelium.claim_tasks('regress_ext', 'agent-1', 1);
-- another agent gets the other one, never the same
SELECT task_id, attempt FROM mycelium.claim_tasks('regress_ext', 'agent-2', 5);
SELECT count(*) FROM mycelium.claim_tasks('regress_ext', 'agent-3', 5);
SELECT task_id, status, attempt, worker_id FROM mycelium.tasks
 WHERE workflow_id = :'wf' ORDER BY task_id;

-- heartbeats: only the holder; progress is recorded, the lease extended
SELECT * FROM regress.try(format($$SELECT mycelium.heartbeat(%L, 'ext1', 'agent-2')$$, :'wf'));
SELECT * FROM regress.try(format($$SELECT mycelium.heartbeat(%L, 'first', 'agent-1')$$, :'wf'));
SELECT * FROM regress.try(format($$SELECT mycelium.heartbeat(%L, 'nope', 'agent-1')$$, :'wf'));
SELECT mycelium.heartbeat(:'wf', 'ext1', 'agent-1', '{"percent": 40}', '1 hour')
	   > now() + interval '59 minutes' AS extended;
SELECT progress FROM mycelium.tasks WHERE workflow_id = :'wf' AND task_id = 'ext1';
-- a heartbeat is not a change of state: the version stays
SELECT version AS v FROM mycelium.workflows WHERE workflow_id = :'wf' \gset
SELECT mycelium.heartbeat(:'wf', 'ext1', 'agent-1') IS NOT NULL AS beat;
SELECT version = :v AS same_version FROM mycelium.workflows WHERE workflow_id = :'wf';

-- fail_task: attempts left, so it is ready again; its holder lost it
SELECT mycelium.fail_task(:'wf', 'ext1', 'agent-1', 'the model timed out', 'model_timeout');
SELECT error, error_detail FROM mycelium.tasks WHERE workflow_id = :'wf' AND task_id = 'ext1';
SELECT * FROM regress.try(format($$SELECT mycelium.complete_task(%L, 'ext1', 'agent-1', '{}')$$, :'wf'));
SELECT task_id, attempt FROM mycelium.claim_tasks('regress_ext', 'agent-3', 5);
-- the old holder is refused, naming the new one
SELECT * FROM regress.try(format($$SELECT mycelium.complete_task(%L, 'ext1', 'agent-1', '{}')$$, :'wf'));
SELECT mycelium.complete_task(:'wf', 'ext1', 'agent-3', '{"answer": 42}');
SELECT * FROM regress.try(format($$SELECT mycelium.complete_task(%L, 'ext1', 'agent-3', '{}')$$, :'wf'));
SELECT mycelium.complete_task(:'wf', 'ext2', 'agent-2', '{"answer": 7}');
RESET ROLE;

-- the last function task sees both external results
SELECT (mycelium.wait_workflow(:'wf', '30 seconds'))->>'status' AS status;
SELECT jsonb_path_query_array(result, '$.previous_results[*].result') AS last_saw
  FROM mycelium.tasks WHERE workflow_id = :'wf' AND task_id = 'last';
SELECT task_id, status, attempt, error, event
  FROM mycelium.workflow_history(:'wf') WHERE task_id LIKE 'ext%' ORDER BY version, task_id;

-- max_parallel_tasks holds for claims; paused workflows give nothing
SELECT mycelium.create_workflow(
	(SELECT jsonb_agg(mycelium.task('t' || i, 'agent', 'regress_ext', timeout => 1))
	   FROM generate_series(1, 5) i),
	max_parallel_tasks => 2) AS wf2 \gset
SELECT mycelium.start_workflow(:'wf2');
SELECT mycelium.pause_workflow(:'wf2');
SELECT count(*) FROM mycelium.claim_tasks('regress_ext', 'agent-1', 5);
SELECT mycelium.resume_workflow(:'wf2');
-- the task's timeout (1 s) bounds the lease
SELECT task_id, lease_until < now() + interval '2 seconds' AS bounded_by_timeout
  FROM mycelium.claim_tasks('regress_ext', 'agent-1', 5) ORDER BY task_id;
SELECT count(*) FROM mycelium.claim_tasks('regress_ext', 'agent-2', 5);

-- a task cancelled under its agent: the agent is refused
SELECT mycelium.cancel_workflow(:'wf2', 'enough');
SELECT * FROM regress.try(format($$SELECT mycelium.complete_task(%L, 't1', 'agent-1', '{}')$$, :'wf2'));
SELECT * FROM regress.try(format($$SELECT mycelium.heartbeat(%L, 't2', 'agent-1')$$, :'wf2'));
SELECT status FROM mycelium.workflows WHERE workflow_id = :'wf2';

-- a result that breaks the agent type's output schema is a failed attempt
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('s', 'agent', 'regress_strict', max_attempts => 2, initial_delay => 0))) AS wf3 \gset
SELECT mycelium.start_workflow(:'wf3');
SELECT task_id FROM mycelium.claim_tasks('regress_strict', 'agent-1');
SELECT mycelium.complete_task(:'wf3', 's', 'agent-1', '{"wrong": true}');
SELECT task_id, attempt FROM mycelium.claim_tasks('regress_strict', 'agent-1');
SELECT mycelium.complete_task(:'wf3', 's', 'agent-1', NULL);
SELECT status, error FROM mycelium.tasks WHERE workflow_id = :'wf3';
SELECT status FROM mycelium.workflows WHERE workflow_id = :'wf3';

-- a task that no agent claimed is not an agent's to report
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('f', 'db', 'regress_ext'))) AS wf4 \gset
SELECT * FROM regress.try(format($$SELECT mycelium.complete_task(%L, 'f', 'agent-1', '{}')$$, :'wf4'));
SELECT mycelium.update_task(:'wf4', 'f', 'running');
SELECT * FROM regress.try(format($$SELECT mycelium.complete_task(%L, 'f', 'agent-1', '{}')$$, :'wf4'));
SELECT * FROM regress.try(format($$SELECT mycelium.fail_task(%L, 'f', 'agent-1', repeat('x', 2000000))$$, :'wf4'));
-- an error_type is a short lower-case identifier
SELECT * FROM regress.try(format($$SELECT mycelium.fail_task(%L, 'f', 'agent-1', 'x', 'Bad Type')$$, :'wf4'));
SELECT * FROM regress.try(format($$SELECT mycelium.fail_task(%L, 'f', 'agent-1', 'x', '')$$, :'wf4'));
SELECT * FROM regress.try(format($$SELECT mycelium.fail_task(%L, 'f', 'agent-1', 'x', NULL)$$, :'wf4'));
SELECT * FROM regress.try(format($$SELECT mycelium.complete_task(%L, 'f', 'agent-1', jsonb_build_object('x', repeat('x', 2000000)))$$, :'wf4'));

-- complete_tasks: the results of several claimed tasks in one call
SELECT mycelium.register_executor('regress_batch', NULL, '{"type": "object"}');
SELECT * FROM regress.try($$SELECT * FROM mycelium.complete_tasks(NULL, '{}', '{}')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.complete_tasks('w1', NULL, '{}')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.complete_tasks('w1', '{}', NULL)$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.complete_tasks('w1', ARRAY[gen_random_uuid()], '{a,b}')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.complete_tasks('w1', ARRAY[gen_random_uuid()], '{a}', '{}')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.complete_tasks('w1', ARRAY[NULL::uuid], '{a}')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.complete_tasks('w1', ARRAY[gen_random_uuid()], ARRAY[NULL::text])$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.complete_tasks('w1', ARRAY[[gen_random_uuid()]], '{{a}}')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.complete_tasks('w1', array_fill(gen_random_uuid(), ARRAY[10001]), array_fill('a'::text, ARRAY[10001]))$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.complete_tasks('w1',
	ARRAY['00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000001']::uuid[], '{a,a}')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.complete_tasks('w1', ARRAY[gen_random_uuid()], '{a}')$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.complete_tasks('w1', ARRAY[gen_random_uuid()], '{a}',
	ARRAY[jsonb_build_object('x', repeat('x', 2000000))])$$);
-- nothing to complete: no rows, not an error
SELECT count(*) FROM mycelium.complete_tasks('w1', '{}', '{}');

-- two workflows: in b1, x and y (external) then z (a function task); in
-- b2, x then w (external)
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('x', 'agent', 'regress_batch'),
	mycelium.task('y', 'agent', 'regress_batch'),
	mycelium.task('z', 'db', 'worker', dependencies => ARRAY['x', 'y'])),
	name => 'batch 1') AS b1 \gset
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('x', 'agent', 'regress_batch', initial_delay => 0),
	mycelium.task('w', 'agent', 'regress_ext', dependencies => ARRAY['x'])),
	name => 'batch 2') AS b2 \gset
SELECT count(mycelium.start_workflow(id)) AS started FROM unnest(ARRAY[:'b1', :'b2']::uuid[]) id;
SELECT count(*) FROM mycelium.claim_tasks('regress_batch', 'agent-b', 10);
-- one task the worker does not hold, or that does not exist: refused, and
-- nothing is recorded, not even for the others
SELECT * FROM regress.try(format($$SELECT * FROM mycelium.complete_tasks('agent-b',
	ARRAY[%L, %L]::uuid[], '{x,w}')$$, :'b1', :'b2'));
SELECT * FROM regress.try(format($$SELECT * FROM mycelium.complete_tasks('agent-c',
	ARRAY[%L]::uuid[], '{x}')$$, :'b1'));
SELECT * FROM regress.try(format($$SELECT * FROM mycelium.complete_tasks('agent-b',
	ARRAY[%L, %L]::uuid[], '{x,nope}')$$, :'b1', :'b1'));
SELECT * FROM regress.try(format($$SELECT * FROM mycelium.complete_tasks('agent-b',
	ARRAY[%L, %L]::uuid[], '{x,x}')$$, :'b1', :'b1'));
SET ROLE regress_bob;
SELECT * FROM regress.try(format($$SELECT * FROM mycelium.complete_tasks('agent-b',
	ARRAY[%L]::uuid[], '{x}')$$, :'b1'));
RESET ROLE;
SELECT workflow_id = :'b1' AS in_b1, task_id, status, result
  FROM mycelium.tasks WHERE workflow_id IN (:'b1', :'b2') ORDER BY 1 DESC, 2;

-- all three at once; b2's x breaks its agent type's output schema, so it
-- is a failed attempt (with a warning) and is ready again; the others
-- complete, in the call's order, and release b1's function task
SELECT workflow_id = :'b1' AS in_b1, task_id, status
  FROM mycelium.complete_tasks('agent-b', ARRAY[:'b1', :'b2', :'b1']::uuid[], '{y,x,x}',
	ARRAY['{"n": 1}', '[2]', '{"n": 3}']::jsonb[]);
SELECT (mycelium.wait_workflow(:'b1', '30 seconds'))->>'status' AS b1_status;
SELECT jsonb_path_query_array(result, '$.previous_results[*].result') AS z_saw
  FROM mycelium.tasks WHERE workflow_id = :'b1' AND task_id = 'z';
SELECT version, task_id, status, event FROM mycelium.workflow_history(:'b1') ORDER BY version;

-- b2: x again, then w (released by x), completed without results
SELECT task_id, attempt FROM mycelium.claim_tasks('regress_batch', 'agent-b', 10);
SELECT task_id, status FROM mycelium.complete_tasks('agent-b', ARRAY[:'b2']::uuid[], '{x}',
	ARRAY['{}']::jsonb[]);
SELECT task_id FROM mycelium.claim_tasks('regress_ext', 'agent-b', 10);
SELECT task_id, status FROM mycelium.complete_tasks('agent-b', ARRAY[:'b2']::uuid[], '{w}');
SELECT status, tasks_open, tasks_running FROM mycelium.workflow_states WHERE workflow_id = :'b2';
SELECT version, task_id, status, attempt, error, event
  FROM mycelium.workflow_history(:'b2') ORDER BY version;

-- a function task waiting for a place under max_parallel_tasks runs as
-- soon as an agent's completion frees one
BEGIN;
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('e', 'agent', 'regress_ext'),
	mycelium.task('f', 'db', 'worker')), max_parallel_tasks => 1) AS b3 \gset
SELECT mycelium.start_workflow(:'b3');
SELECT task_id FROM mycelium.claim_tasks('regress_ext', 'agent-b');
COMMIT;
-- (time for the scheduler to look at it and find no place for f)
SELECT pg_sleep(0.5);
SELECT task_id, status FROM mycelium.tasks WHERE workflow_id = :'b3' ORDER BY task_id;
SELECT mycelium.complete_task(:'b3', 'e', 'agent-b', '{}');
SELECT (mycelium.wait_workflow(:'b3', '30 seconds'))->>'status' AS b3_status;

-- one task per call, as most agents claim and report: claim_tasks with
-- max_tasks 1 locks the workflow of the first ready task in priority order
-- that has room, and claims, records and saves the workflow in one more
-- statement; complete_task of a task that does not end its workflow
-- records and saves in one.  Two workflows: p (priority 5, two tasks,
-- max_parallel_tasks 1) and q (priority 0, one task)
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('p1', 'agent', 'regress_ext'),
	mycelium.task('p2', 'agent', 'regress_ext')),
	max_parallel_tasks => 1, name => 'one p', priority => 5) AS op \gset
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('q1', 'agent', 'regress_ext')), name => 'one q') AS oq \gset
SELECT count(mycelium.start_workflow(id)) AS started FROM unnest(ARRAY[:'oq', :'op']::uuid[]) id;
-- the version, counters and history each change leaves, as the tasks say
CREATE FUNCTION regress.one_state(wf uuid) RETURNS TABLE
	(version bigint, history_version bigint, tasks_open int, open_tasks bigint,
	 tasks_running int, running_tasks bigint)
LANGUAGE sql AS $$
	SELECT w.version, (SELECT max(h.version) FROM mycelium.workflow_state_history h
						WHERE h.workflow_id = w.workflow_id),
		   w.tasks_open, (SELECT count(*) FROM mycelium.task_states t
						   WHERE t.workflow_id = w.workflow_id
							 AND t.status IN ('pending', 'ready', 'running')),
		   w.tasks_running, (SELECT count(*) FROM mycelium.task_states t
							  WHERE t.workflow_id = w.workflow_id AND t.status = 'running')
	  FROM mycelium.workflow_states w WHERE w.workflow_id = wf
$$;
-- p first (its priority), p1 first (task order); then p has no room, so q
SELECT workflow_id = :'op' AS from_p, task_id, attempt
  FROM mycelium.claim_tasks('regress_ext', 'agent-o', 1);
SELECT * FROM regress.one_state(:'op');
SELECT workflow_id = :'op' AS from_p, task_id, attempt
  FROM mycelium.claim_tasks('regress_ext', 'agent-o', 1);
SELECT * FROM regress.one_state(:'oq');
SELECT count(*) AS nothing_left FROM mycelium.claim_tasks('regress_ext', 'agent-o', 1);
-- p1 done: p goes on (one statement records and saves it); its room
-- gives p2 to the next claim
SELECT mycelium.complete_task(:'op', 'p1', 'agent-o', '{"n": 1}');
SELECT * FROM regress.one_state(:'op');
SELECT task_id, attempt, ctx->'workflow_context' AS context, ctx->'handoffs' AS handoffs
  FROM mycelium.claim_tasks('regress_ext', 'agent-o', 1);
SELECT * FROM regress.one_state(:'op');
-- q1 and p2 done: each ends its workflow
SELECT mycelium.complete_task(:'oq', 'q1', 'agent-o', '{}');
SELECT mycelium.complete_task(:'op', 'p2', 'agent-o', '{}');
SELECT * FROM regress.one_state(:'op');
SELECT * FROM regress.one_state(:'oq');
SELECT name, status FROM mycelium.workflows WHERE workflow_id IN (:'op', :'oq') ORDER BY name;
SELECT version, task_id, status, attempt, event
  FROM mycelium.workflow_history(:'op') ORDER BY version;
-- A claim outside a transaction block commits without waiting for its WAL
-- flush (mycelium.synchronous_claims off, the default): a claim lost in a
-- crash only leaves its tasks ready.  In a transaction block, and with the
-- setting on, the transaction's own synchronous_commit holds.
SELECT mycelium.create_workflow(
	'[{"task_id": "s1", "agent_id": "a", "agent_type": "regress_ext"},
	  {"task_id": "s2", "agent_id": "a", "agent_type": "regress_ext"},
	  {"task_id": "s3", "agent_id": "a", "agent_type": "regress_ext"}]',
	name => 'sync-claims') AS os \gset
SELECT mycelium.start_workflow(:'os');
SHOW synchronous_commit;
SELECT (SELECT count(*) FROM mycelium.claim_tasks('regress_ext', 'agent-s', 1)) AS claimed,
	   current_setting('synchronous_commit') AS claim_commit;
SHOW synchronous_commit;
BEGIN;
SELECT (SELECT count(*) FROM mycelium.claim_tasks('regress_ext', 'agent-s', 1)) AS claimed,
	   current_setting('synchronous_commit') AS claim_commit;
COMMIT;
SET mycelium.synchronous_claims = on;
SELECT (SELECT count(*) FROM mycelium.claim_tasks('regress_ext', 'agent-s', 1)) AS claimed,
	   current_setting('synchronous_commit') AS claim_commit;
RESET mycelium.synchronous_claims;
SELECT mycelium.cancel_workflow(:'os');
