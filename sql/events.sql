-- Custom events and statistics: the owner, an executor (as the owner), an
-- external agent (naming the worker that holds a running task) and an
-- administrator record events on a workflow; nobody else can; events are seen in mycelium.workflow_events and
-- counted, with tasks by status, failure rate, durations, handoffs and
-- agents, by mycelium.workflow_statistics and workflow_stats(id).

-- an executor that records an event on its own workflow
CREATE FUNCTION regress.noting(ctx jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('event', mycelium.record_event((ctx->>'workflow_id')::uuid,
		'decision', jsonb_build_object('chose', ctx->'task'->'input'), ctx->'task'->>'agent_id'))
$$;
CREATE FUNCTION regress.failing(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'no luck';
END $$;
SELECT mycelium.register_executor('noting', 'regress.noting(jsonb)');
SELECT mycelium.register_executor('failing', 'regress.failing(jsonb)');
SET ROLE regress_alice;
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('plan', 'planner', 'noting', input => '"plan B"'),
	mycelium.task('work', 'worker-1', 'worker', dependencies => '{plan}'),
	mycelium.task('flaky', 'worker-2', 'failing', dependencies => '{plan}', max_attempts => 1,
		allow_failure => true),
	mycelium.task('ext', 'outside-1', 'external', dependencies => '{work}')),
	name => 'stats') AS wf \gset
-- the owner records one before the start; an executor records one as it runs
SELECT mycelium.record_event(:'wf', 'kickoff', '{"by": "alice"}') > 0 AS recorded;
SELECT mycelium.send_handoff(:'wf', mycelium.create_handoff('planner', 'noting', 'outside-1', 'external', 'do it'))
	IS NOT NULL AS sent;
SELECT mycelium.start_workflow(:'wf') > 0 AS started;
RESET ROLE;
-- until the scheduler has run the function tasks and ext is ready
CREATE FUNCTION regress.wait_task(wf uuid, task text, wanted text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	s text;
BEGIN
	FOR i IN 1 .. 600 LOOP
		SELECT status INTO s FROM mycelium.tasks WHERE workflow_id = wf AND task_id = task;
		EXIT WHEN s = wanted;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RETURN s;
END $$;
SELECT regress.wait_task(:'wf', 'ext', 'ready') AS ext;
-- the external agent (alice's) claims its task and records an event as
-- the worker that holds it
SET ROLE regress_alice;
SELECT task_id FROM mycelium.claim_tasks('external', 'agent-ext-1');
SELECT mycelium.record_event(:'wf', 'tool_call', '{"tool": "grep"}', 'outside-1', 'agent-ext-1') > 0 AS agent_recorded;
-- a worker that holds nothing of it cannot be named
SELECT regress.try(format($$SELECT mycelium.record_event(%L, 'x', worker_id => 'nobody')$$, :'wf'));
-- another role cannot record on alice's workflow, even naming her worker
SET ROLE regress_bob;
SELECT regress.try(format($$SELECT mycelium.record_event(%L, 'x')$$, :'wf'));
SELECT regress.try(format($$SELECT mycelium.record_event(%L, 'x', worker_id => 'agent-ext-1')$$, :'wf'));
SET ROLE regress_alice;
SELECT mycelium.complete_task(:'wf', 'ext', 'agent-ext-1', '{"done": true}');
-- once the task is done, the worker holds nothing of it any more
SELECT regress.try(format($$SELECT mycelium.record_event(%L, 'late', worker_id => 'agent-ext-1')$$, :'wf'));
RESET ROLE;
SELECT mycelium.wait_workflow(:'wf', '30 s')->>'status' AS status;

-- the events, in record order; bob sees none of them
SET ROLE regress_alice;
SELECT event_type, payload, agent_id, worker_id, recorded_by
  FROM mycelium.workflow_events WHERE workflow_id = :'wf' ORDER BY event_id;
SET ROLE regress_bob;
SELECT count(*) AS bob_sees FROM mycelium.workflow_events WHERE workflow_id = :'wf';
SELECT count(*) AS bob_stats FROM mycelium.workflow_stats(:'wf');

-- statistics
SET ROLE regress_alice;
SELECT name, status, tasks, tasks_by_status, failure_rate, handoffs, events, agents,
	   avg_duration >= '0' AND p95_duration >= avg_duration AS durations
  FROM mycelium.workflow_stats(:'wf');
SELECT count(*) AS in_view FROM mycelium.workflow_statistics WHERE workflow_id = :'wf';
-- durations are those of the tasks that completed or failed
SELECT s.avg_duration = (SELECT avg(finished_at - started_at) FROM mycelium.tasks
						  WHERE workflow_id = :'wf' AND status IN ('completed', 'failed')) AS avg_matches,
	   s.p95_duration = (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY finished_at - started_at)
						   FROM mycelium.tasks
						  WHERE workflow_id = :'wf' AND status IN ('completed', 'failed')) AS p95_matches
  FROM mycelium.workflow_stats(:'wf') s;
-- a workflow with nothing finished has no failure rate nor durations
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker'))) AS idle \gset
SELECT tasks_by_status, failure_rate, avg_duration, p95_duration, handoffs, events, agents
  FROM mycelium.workflow_stats(:'idle');
SELECT mycelium.create_workflow('[]') AS empty \gset
SELECT tasks, tasks_by_status, failure_rate, agents FROM mycelium.workflow_stats(:'empty');

-- bad arguments change nothing
SELECT count(*) AS events_before FROM mycelium.workflow_events \gset
SELECT regress.try(format($$SELECT mycelium.record_event(%L, NULL)$$, :'wf'));
SELECT regress.try(format($$SELECT mycelium.record_event(%L, '')$$, :'wf'));
SELECT regress.try(format($$SELECT mycelium.record_event(%L, repeat('t', 256))$$, :'wf'));
SELECT regress.try(format($$SELECT mycelium.record_event(%L, E'a\nb')$$, :'wf'));
SELECT regress.try(format($$SELECT mycelium.record_event(%L, 'x', NULL)$$, :'wf'));
SELECT regress.try(format($$SELECT mycelium.record_event(%L, 'x', agent_id => '')$$, :'wf'));
SELECT regress.try($$SELECT mycelium.record_event(NULL, 'x')$$);
SELECT regress.try($$SELECT mycelium.record_event('00000000-0000-0000-0000-000000000000', 'x')$$);
RESET ROLE;
SET mycelium.max_payload_size = '1kB';
SET ROLE regress_alice;
SELECT regress.try(format($$SELECT mycelium.record_event(%L, 'x', jsonb_build_object('k', repeat('x', 2000)))$$, :'wf'));
RESET ROLE;
RESET mycelium.max_payload_size;
SELECT count(*) = :events_before AS nothing_stored FROM mycelium.workflow_events;
-- nobody writes the table directly
SET ROLE regress_alice;
SELECT regress.try(format($$INSERT INTO mycelium.workflow_events (workflow_id, owner, event_type, payload, recorded_by)
	VALUES (%L, 'regress_alice', 'x', '{}', 'regress_alice')$$, :'wf'));
-- an administrator records on anyone's workflow
SET ROLE regress_admin;
SELECT mycelium.record_event(:'wf', 'audit') > 0 AS admin_recorded;
RESET ROLE;
-- events go with their workflow
SET ROLE regress_alice;
SELECT mycelium.delete_workflow(:'wf');
RESET ROLE;
SELECT count(*) AS events_left FROM mycelium.workflow_events WHERE workflow_id = :'wf';
