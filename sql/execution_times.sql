-- Execution times of external agents' attempts: every attempt that ends
-- records how long it ran (ms, from its claim until it ended) in the
-- history (workflow_timeline) and as the task's execution_time: a
-- completion, fail_task, a result that breaks the output schema,
-- cancel_workflow of a running task, update_task of a running task.  A
-- released attempt is not counted: it has no time, and the task keeps
-- the time of its last attempt that ended.  (Lapsed leases, lost,
-- timed-out and terminated attempts: test/t/018_structured_errors.pl and
-- test/t/031_execution_times.pl.)

SELECT mycelium.register_executor('regress_times', NULL);
SELECT mycelium.register_executor('regress_times_schema', NULL,
	'{"type": "object", "required": ["answer"]}');

-- regress.ran(wf, task, ms): each attempt of the task in the timeline: its
-- outcome, and whether its execution time is known and at least ms
CREATE FUNCTION regress.ran(wf uuid, task text, ms float8 DEFAULT 0) RETURNS text
LANGUAGE sql AS $$
	SELECT string_agg(attempt || ':' || outcome || ':'
		|| CASE WHEN execution_time IS NULL THEN 'no time'
				WHEN execution_time >= ms THEN 'timed'
				ELSE 'too short (' || execution_time || ' ms)' END, ', ' ORDER BY started_at)
	  FROM mycelium.workflow_timeline(wf) WHERE task_id = task
$$;
GRANT EXECUTE ON FUNCTION regress.ran(uuid, text, float8) TO PUBLIC;
SET ROLE regress_alice;

SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('f', 'agent', 'regress_times', max_attempts => 2, initial_delay => 0,
				  allow_failure => true),
	mycelium.task('r', 'agent', 'regress_times', max_attempts => 2, initial_delay => 0),
	mycelium.task('s', 'agent', 'regress_times_schema', max_attempts => 1, allow_failure => true)),
	name => 'times') AS wf \gset
SELECT mycelium.start_workflow(:'wf');

-- fail_task: the failed attempt ran from its claim until fail_task
SELECT count(*) FROM mycelium.claim_tasks('regress_times', 'agent-1', 2);
SELECT pg_sleep(0.2);
SELECT mycelium.fail_task(:'wf', 'f', 'agent-1', 'the model timed out', 'model_timeout');
SELECT regress.ran(:'wf', 'f', 200);
SELECT execution_time >= 200 AS task_timed FROM mycelium.tasks
 WHERE workflow_id = :'wf' AND task_id = 'f';
-- ... and its last attempt failing fails the task, with its time
SELECT count(*) FROM mycelium.claim_tasks('regress_times', 'agent-1', 1);
SELECT pg_sleep(0.1);
SELECT mycelium.fail_task(:'wf', 'f', 'agent-1', 'again', 'model_timeout');
SELECT regress.ran(:'wf', 'f', 100);

-- release_task: not counted, so no time; the task keeps none (it has
-- not ended an attempt yet), and its completed attempt has its own
SELECT mycelium.release_task(:'wf', 'r', 'agent-1');
SELECT regress.ran(:'wf', 'r');
SELECT execution_time IS NULL AS no_time FROM mycelium.tasks
 WHERE workflow_id = :'wf' AND task_id = 'r';
SELECT count(*) FROM mycelium.claim_tasks('regress_times', 'agent-2', 1);
SELECT pg_sleep(0.1);
SELECT mycelium.complete_task(:'wf', 'r', 'agent-2', '{}');
SELECT regress.ran(:'wf', 'r', 100);

-- a result that breaks the agent type's output schema fails the attempt,
-- which has its time
SELECT count(*) FROM mycelium.claim_tasks('regress_times_schema', 'agent-3', 1);
SELECT pg_sleep(0.1);
SELECT mycelium.complete_task(:'wf', 's', 'agent-3', '{"no": "answer"}');
SELECT regress.ran(:'wf', 's', 100);
SELECT status, execution_time >= 100 AS task_timed FROM mycelium.tasks
 WHERE workflow_id = :'wf' AND task_id = 's';

-- cancel_workflow: the running attempt it cancels has its time; the
-- tasks that never ran have none
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('run', 'agent', 'regress_times'),
	mycelium.task('wait', 'agent', 'regress_times', dependencies => ARRAY['run'])),
	name => 'times cancelled') AS wf2 \gset
SELECT mycelium.start_workflow(:'wf2');
SELECT count(*) FROM mycelium.claim_tasks('regress_times', 'agent-4', 1);
SELECT pg_sleep(0.1);
SELECT mycelium.cancel_workflow(:'wf2', 'enough');
SELECT regress.ran(:'wf2', 'run', 100);
SELECT task_id, status, execution_time >= 100 AS task_timed FROM mycelium.tasks
 WHERE workflow_id = :'wf2' ORDER BY task_id;
SELECT task_id, status, execution_time >= 100 AS history_timed
  FROM mycelium.workflow_history(:'wf2') WHERE status = 'cancelled' AND task_id IS NOT NULL
 ORDER BY task_id;

-- update_task ending a running attempt: the attempt has its time
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('u', 'agent', 'regress_times')), name => 'times updated') AS wf3 \gset
SELECT mycelium.start_workflow(:'wf3');
SELECT count(*) FROM mycelium.claim_tasks('regress_times', 'agent-5', 1);
SELECT pg_sleep(0.1);
SELECT mycelium.update_task(:'wf3', 'u', 'failed', error => 'given up by hand') > 0 AS updated;
SELECT regress.ran(:'wf3', 'u', 100);
RESET ROLE;
