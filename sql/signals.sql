-- Signal tasks and mycelium.signal: a task that waits for a named signal
-- and takes its payload as its result; deadlines; signals kept for tasks
-- not waiting yet; who may signal; bad input.
-- (A deadline across a restart is tested in test/t/029_signals.pl, two
-- signals racing for one task in test/isolation/specs/signal_race.spec.)

-- regress.wait_signal_task(wf, task, status): waits (at most 30 s) until the task
-- has that status
CREATE FUNCTION regress.wait_signal_task(wf uuid, task text, want text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	st text;
BEGIN
	FOR i IN 1..600 LOOP
		SELECT t.status INTO st FROM mycelium.tasks t
		 WHERE t.workflow_id = wf AND t.task_id = task;
		EXIT WHEN st = want;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RETURN st;
END;
$$;

-- the constructor
SELECT jsonb_pretty(mycelium.signal_task('approve', 'approval',
	dependencies => ARRAY['draft'], deadline => '1 hour',
	default_result => '{"approved": false}', metadata => '{"ask": "ops"}'));
SELECT mycelium.signal_task('go', 'go');

-- bad definitions: nothing is stored
CREATE TEMP TABLE signal_counts AS SELECT * FROM regress.counts();
SELECT * FROM regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('x', 'a', 'mycelium.signal')))$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow('[{"task_id": "x", "signal": 5}]')$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow('[{"task_id": "x", "signal": ""}]')$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow('[{"task_id": "x", "signal": {"deadline": 5}}]')$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow('[{"task_id": "x", "signal": {"name": "s", "when": 5}}]')$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow('[{"task_id": "x", "signal": {"name": "s", "deadline": 0}}]')$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow('[{"task_id": "x", "signal": {"name": "s", "deadline": "1 hour"}}]')$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow('[{"task_id": "x", "signal": {"name": "s", "deadline": 1e12}}]')$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow('[{"task_id": "x", "signal": {"name": "s", "on_deadline": "retry"}}]')$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow('[{"task_id": "x", "signal": {"name": "s", "on_deadline": "complete"}}]')$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.signal_task('x', 's', deadline => '1 minute', on_deadline => 'fail', default_result => '{}')))$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.signal_task('x', 's', deadline => '-1 minute')))$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow('[{"task_id": "x", "signal": "s", "agent_type": "worker"}]')$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow('[{"task_id": "x", "signal": "s", "input": {}}]')$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow('[{"task_id": "x", "signal": "s", "timeout": 5}]')$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow('[{"task_id": "x", "signal": "s", "retry_policy": {"max_attempts": 1}}]')$$);
SELECT (SELECT row(c.*)::text FROM regress.counts() c) =
	   (SELECT row(s.*)::text FROM signal_counts s) AS nothing_stored;

-- the reserved agent type: no executor, no limits, no external agent
SELECT * FROM regress.try($$SELECT mycelium.register_executor('mycelium.signal', NULL)$$);
SELECT * FROM regress.try($$SELECT mycelium.register_executor('mycelium.signal', 'regress.echo(jsonb)')$$);
SELECT * FROM regress.try($$SELECT mycelium.set_agent_type_limits('mycelium.signal', 1)$$);
SELECT * FROM regress.try($$SELECT * FROM mycelium.claim_tasks('mycelium.signal', 'w1')$$);

-- an approval: prep (a function task) -> approve (waits for "approval")
-- -> after (a function task, which sees the payload); owned by alice
SET ROLE regress_alice;
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('prep', 'db', 'worker'),
	mycelium.signal_task('approve', 'approval', dependencies => ARRAY['prep']),
	mycelium.task('after', 'db', 'worker', dependencies => ARRAY['approve'])),
	name => 'approval') AS wf \gset
SELECT agent_id, agent_type, input FROM mycelium.tasks
 WHERE workflow_id = :'wf' AND task_id = 'approve';
SELECT mycelium.start_workflow(:'wf');
RESET ROLE;
SELECT regress.wait_signal_task(:'wf', 'approve', 'ready');
-- it waits: no worker or agent runs it, and it stays ready
SELECT pg_sleep(0.3);
SELECT task_id, status, attempt FROM mycelium.tasks WHERE workflow_id = :'wf' ORDER BY task_id;
SELECT * FROM regress.try($$SELECT * FROM mycelium.claim_tasks('external', 'w1')$$);
SELECT * FROM regress.try(format($$SELECT mycelium.update_task(%L, 'approve', 'running')$$, :'wf'));

-- bad input, and other roles: refused, nothing changes
SELECT * FROM regress.try($$SELECT mycelium.signal(NULL, 'approval')$$);
SELECT * FROM regress.try(format($$SELECT mycelium.signal(%L, NULL)$$, :'wf'));
SELECT * FROM regress.try(format($$SELECT mycelium.signal(%L, 'approval', NULL)$$, :'wf'));
SELECT * FROM regress.try(format($$SELECT mycelium.signal(%L, '')$$, :'wf'));
SELECT * FROM regress.try(format($$SELECT mycelium.signal(%L, repeat('s', 256))$$, :'wf'));
SELECT * FROM regress.try(format($$SELECT mycelium.signal(%L, E'a\nb')$$, :'wf'));
SELECT * FROM regress.try($$SELECT mycelium.signal(gen_random_uuid(), 'approval')$$);
SET mycelium.max_payload_size = 1;
SELECT * FROM regress.try(format($$SELECT mycelium.signal(%L, 'approval', jsonb_build_object('x', repeat('x', 2000)))$$, :'wf'));
RESET mycelium.max_payload_size;
SET ROLE regress_bob;
SELECT * FROM regress.try(format($$SELECT mycelium.signal(%L, 'approval')$$, :'wf'));
SET ROLE regress_outsider;
SELECT * FROM regress.try(format($$SELECT mycelium.signal(%L, 'approval')$$, :'wf'));
SET ROLE regress_alice;
SELECT * FROM regress.try(format($$SELECT mycelium.signal(%L, 'approvals')$$, :'wf'));
RESET ROLE;
SELECT task_id, status FROM mycelium.tasks WHERE workflow_id = :'wf' AND task_id = 'approve';
SELECT count(*) AS signals FROM mycelium.workflow_signals WHERE workflow_id = :'wf';

-- the owner approves: the task completes with the payload, and its
-- dependent runs with it in previous_results
SET ROLE regress_alice;
SELECT mycelium.signal(:'wf', 'approval', '{"approved": true, "by": "carol"}') AS completed;
SELECT (mycelium.wait_workflow(:'wf', '30 seconds'))->>'status' AS status;
SELECT task_id, status, attempt, result FROM mycelium.tasks
 WHERE workflow_id = :'wf' AND task_id = 'approve';
SELECT jsonb_path_query_array(result, '$.previous_results[*] ? (@.task_id == "approve")') AS seen_by_after
  FROM mycelium.tasks WHERE workflow_id = :'wf' AND task_id = 'after';
SELECT task_id, status, event, changed_by FROM mycelium.workflow_history(:'wf')
 WHERE task_id = 'approve' ORDER BY version;
SELECT signal_no, name, payload, sent_by, delivered_at IS NOT NULL AS delivered, delivered_to
  FROM mycelium.workflow_signals WHERE workflow_id = :'wf';
-- the workflow finished: it takes no signal
SELECT * FROM regress.try(format($$SELECT mycelium.signal(%L, 'approval')$$, :'wf'));
SELECT count(*) AS signals FROM mycelium.workflow_signals WHERE workflow_id = :'wf';
RESET ROLE;

-- a signal sent before its task waits is kept, and delivered when the
-- task starts waiting: here, before the workflow even starts
SET ROLE regress_alice;
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('first', 'db', 'worker'),
	mycelium.signal_task('gate', 'go', dependencies => ARRAY['first']),
	mycelium.task('then', 'db', 'worker', dependencies => ARRAY['gate']))) AS early \gset
SELECT mycelium.signal(:'early', 'go', '{"early": true}') AS completed;
-- one kept signal is enough for the one task that will wait
SELECT * FROM regress.try(format($$SELECT mycelium.signal(%L, 'go')$$, :'early'));
SELECT signal_no, payload, delivered_at IS NULL AS kept FROM mycelium.workflow_signals
 WHERE workflow_id = :'early';
SELECT mycelium.start_workflow(:'early');
SELECT (mycelium.wait_workflow(:'early', '30 seconds'))->>'status' AS status;
SELECT task_id, status, result FROM mycelium.tasks WHERE workflow_id = :'early' AND task_id = 'gate';
SELECT jsonb_path_query_array(result, '$.previous_results[*].result') AS seen_by_then
  FROM mycelium.tasks WHERE workflow_id = :'early' AND task_id = 'then';
SELECT event, changed_by FROM mycelium.workflow_history(:'early') WHERE task_id = 'gate' AND status = 'completed';
SELECT signal_no, delivered_at IS NOT NULL AS delivered, delivered_to FROM mycelium.workflow_signals
 WHERE workflow_id = :'early';
RESET ROLE;

-- kept signals go first, in the order they came: g1 starts waiting in the
-- transaction that starts the workflow, before the launcher saw it, and the
-- second signal finds it with the first one kept for it
BEGIN;
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.signal_task('g1', 'go'),
	mycelium.task('f', 'db', 'worker'),
	mycelium.signal_task('g2', 'go', dependencies => ARRAY['f']))) AS order_wf \gset
SELECT mycelium.signal(:'order_wf', 'go', '"first"') AS completed;
SELECT mycelium.start_workflow(:'order_wf') > 0 AS started;
SELECT mycelium.signal(:'order_wf', 'go', '"second"') AS completed;
SELECT * FROM regress.try(format($$SELECT mycelium.signal(%L, 'go', '"third"')$$, :'order_wf'));
COMMIT;
SELECT (mycelium.wait_workflow(:'order_wf', '30 seconds'))->>'status' AS status;
SELECT task_id, result FROM mycelium.tasks WHERE workflow_id = :'order_wf' AND task_id LIKE 'g%' ORDER BY task_id;
SELECT signal_no, payload, delivered_to FROM mycelium.workflow_signals
 WHERE workflow_id = :'order_wf' ORDER BY signal_no;

-- deadlines: one fails its task (error_type deadline), which fails the
-- workflow; one completes with its default result
SET ROLE regress_alice;
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.signal_task('wait', 'never', deadline => '0.2 seconds'))) AS dl \gset
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.signal_task('wait', 'never', deadline => '0.2 seconds',
		default_result => '{"approved": false}'),
	mycelium.task('after', 'db', 'worker', dependencies => ARRAY['wait']))) AS dd \gset
SELECT mycelium.start_workflow(:'dl');
SELECT mycelium.start_workflow(:'dd');
SELECT (mycelium.wait_workflow(:'dl', '30 seconds'))->>'status' AS status;
SELECT status, attempt, error, error_detail FROM mycelium.tasks WHERE workflow_id = :'dl';
SELECT error_detail FROM mycelium.workflows WHERE workflow_id = :'dl';
SELECT event FROM mycelium.workflow_history(:'dl') WHERE task_id = 'wait' AND status = 'failed';
SELECT (mycelium.wait_workflow(:'dd', '30 seconds'))->>'status' AS status;
SELECT task_id, status, result FROM mycelium.tasks WHERE workflow_id = :'dd' AND task_id = 'wait';
SELECT jsonb_path_query_array(result, '$.previous_results[*].result') AS seen_by_after
  FROM mycelium.tasks WHERE workflow_id = :'dd' AND task_id = 'after';
SELECT event FROM mycelium.workflow_history(:'dd') WHERE task_id = 'wait' AND status = 'completed';
-- a signal after the deadline is told the task is finished
SELECT * FROM regress.try(format($$SELECT mycelium.signal(%L, 'never')$$, :'dd'));
RESET ROLE;

-- paused: a waiting task still takes its signal; nothing else starts
-- until the workflow resumes.  An administrator may signal too.
SET ROLE regress_alice;
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.signal_task('a', 'sa'),
	mycelium.signal_task('b', 'sb'),
	mycelium.task('c', 'db', 'worker', dependencies => ARRAY['a', 'b']))) AS pw \gset
SELECT mycelium.start_workflow(:'pw');
SELECT mycelium.pause_workflow(:'pw') > 0 AS paused;
SELECT mycelium.signal(:'pw', 'sa', '1') AS completed;
-- a repeated signal: told so, nothing doubled
SELECT * FROM regress.try(format($$SELECT mycelium.signal(%L, 'sa', '3')$$, :'pw'));
SELECT count(*) AS signals FROM mycelium.workflow_signals WHERE workflow_id = :'pw';
RESET ROLE;
SET ROLE regress_admin;
SELECT mycelium.signal(:'pw', 'sb', '2') AS completed;
SELECT pg_sleep(0.3);
SELECT task_id, status, result FROM mycelium.tasks WHERE workflow_id = :'pw' ORDER BY task_id;
SELECT status FROM mycelium.workflows WHERE workflow_id = :'pw';
RESET ROLE;
SET ROLE regress_alice;
SELECT mycelium.resume_workflow(:'pw') > 0 AS resumed;
SELECT (mycelium.wait_workflow(:'pw', '30 seconds'))->>'status' AS status;
SELECT sent_by, name FROM mycelium.workflow_signals WHERE workflow_id = :'pw' ORDER BY signal_no;

-- one signal completes every task waiting for it
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.signal_task('x', 'both'),
	mycelium.signal_task('y', 'both'))) AS two \gset
SELECT mycelium.start_workflow(:'two');
RESET ROLE;
SELECT regress.wait_signal_task(:'two', 'y', 'ready');
SET ROLE regress_alice;
SELECT mycelium.signal(:'two', 'both', '"yes"') AS completed;
SELECT (mycelium.wait_workflow(:'two', '30 seconds'))->>'status' AS status;
SELECT delivered_to FROM mycelium.workflow_signals WHERE workflow_id = :'two';

-- a signal task added to a running workflow waits like the others
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.signal_task('x', 'first'))) AS grow \gset
SELECT mycelium.start_workflow(:'grow');
SELECT mycelium.add_tasks(:'grow', jsonb_build_array(
	mycelium.signal_task('y', 'second', dependencies => ARRAY['x']))) > 0 AS added;
SELECT mycelium.signal(:'grow', 'second', '"early"') AS completed;
SELECT mycelium.signal(:'grow', 'first', '"one"') AS completed;
SELECT (mycelium.wait_workflow(:'grow', '30 seconds'))->>'status' AS status;
SELECT task_id, result FROM mycelium.tasks WHERE workflow_id = :'grow' ORDER BY task_id;

-- execute_workflow in this transaction cannot wait for a signal: it says so
BEGIN;
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('f', 'db', 'worker'),
	mycelium.signal_task('s', 'never', dependencies => ARRAY['f'], deadline => '1 hour'))) AS inl \gset
SELECT * FROM regress.try(format($$SELECT mycelium.execute_workflow(%L)$$, :'inl'));
ROLLBACK;

-- finished workflows take no signal
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.signal_task('x', 'late'))) AS cw \gset
SELECT mycelium.start_workflow(:'cw');
SELECT mycelium.cancel_workflow(:'cw') > 0 AS cancelled;
SELECT * FROM regress.try(format($$SELECT mycelium.signal(%L, 'late')$$, :'cw'));
SELECT count(*) AS signals FROM mycelium.workflow_signals WHERE workflow_id = :'cw';
RESET ROLE;

-- a deleted workflow takes its signals with it
SELECT mycelium.delete_workflow(:'wf');
SELECT count(*) AS signals FROM mycelium.workflow_signals WHERE workflow_id = :'wf';
