-- Example: workflows run by the background scheduler.  Each one is
-- started, waited for, and shown with its result and a timeline of its
-- task runs (one row per attempt; the bar spans the attempt in time).
\pset footer off
CREATE SCHEMA demo;

-- an agent that "works" for input.sleep seconds, fails its first
-- input.fail_times attempts, and reports what its dependencies returned
CREATE FUNCTION demo.agent(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	IF (ctx->>'attempt')::int <= coalesce((ctx->'task'->'input'->>'fail_times')::int, 0) THEN
		RAISE EXCEPTION 'attempt % of % failed on purpose', ctx->>'attempt', ctx->'task'->>'task_id';
	END IF;
	PERFORM pg_sleep(coalesce((ctx->'task'->'input'->>'sleep')::float8, 0.2));
	RETURN jsonb_build_object('done_by', ctx->'task'->>'agent_id',
		'saw', (SELECT coalesce(jsonb_agg(p->>'task_id'), '[]') FROM jsonb_array_elements(ctx->'previous_results') p));
END $$;
SELECT mycelium.register_executor('demo-agent', 'demo.agent(jsonb)');

-- the timeline of a workflow: one row per attempt, offsets from its start
CREATE FUNCTION demo.timeline(wf uuid)
RETURNS TABLE (task text, attempt int, outcome text, start_ms int, end_ms int, timeline text)
LANGUAGE sql AS $$
	WITH w AS (SELECT started_at, finished_at FROM mycelium.workflows WHERE workflow_id = wf),
	runs AS (
		SELECT h.task_id, h.attempt, h.changed_at AS began,
			   lead(h.changed_at) OVER (PARTITION BY h.task_id ORDER BY h.version) AS ended,
			   lead(h.status) OVER (PARTITION BY h.task_id ORDER BY h.version) AS outcome,
			   lead(h.error) OVER (PARTITION BY h.task_id ORDER BY h.version) AS error,
			   h.status
		  FROM mycelium.workflow_history(wf) h WHERE h.task_id IS NOT NULL)
	SELECT r.task_id, r.attempt,
		   CASE WHEN r.outcome = 'ready' THEN 'retry: ' || r.error ELSE r.outcome END,
		   (extract(epoch FROM r.began - w.started_at) * 1000)::int,
		   (extract(epoch FROM r.ended - w.started_at) * 1000)::int,
		   repeat(' ', (extract(epoch FROM r.began - w.started_at) * 20)::int) ||
		   repeat('#', greatest(1, (extract(epoch FROM r.ended - r.began) * 20)::int))
	  FROM runs r, w WHERE r.status = 'running'
	 ORDER BY r.began, r.task_id
$$;

-- run(name, tasks): creates, starts and waits for a workflow, then shows it
CREATE FUNCTION demo.run(name text, tasks jsonb, max_parallel int DEFAULT 10)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
	wf uuid := mycelium.create_workflow(tasks, name => name, max_parallel_tasks => max_parallel);
BEGIN
	PERFORM mycelium.start_workflow(wf);
	RETURN wf;
END $$;

\echo
\echo '=== sequential: A -> B -> C'
SELECT demo.run('sequential', jsonb_build_array(
	mycelium.task('A', 'agent-a', 'demo-agent'),
	mycelium.task('B', 'agent-b', 'demo-agent', dependencies => '{A}'),
	mycelium.task('C', 'agent-c', 'demo-agent', dependencies => '{B}'))) AS wf \gset
SELECT mycelium.wait_workflow(:'wf', '60 s')->>'status' AS status;
SELECT * FROM demo.timeline(:'wf');

\echo
\echo '=== parallel: A, B, C at once'
SELECT demo.run('parallel', jsonb_build_array(
	mycelium.task('A', 'agent-a', 'demo-agent', input => '{"sleep": 0.5}'),
	mycelium.task('B', 'agent-b', 'demo-agent', input => '{"sleep": 0.5}'),
	mycelium.task('C', 'agent-c', 'demo-agent', input => '{"sleep": 0.5}'))) AS wf \gset
SELECT mycelium.wait_workflow(:'wf', '60 s')->>'status' AS status;
SELECT * FROM demo.timeline(:'wf');

\echo
\echo '=== diamond: A -> (B, C) -> D; D sees what B and C returned'
SELECT demo.run('diamond', jsonb_build_array(
	mycelium.task('A', 'agent-a', 'demo-agent'),
	mycelium.task('B', 'agent-b', 'demo-agent', dependencies => '{A}', input => '{"sleep": 0.5}'),
	mycelium.task('C', 'agent-c', 'demo-agent', dependencies => '{A}', input => '{"sleep": 0.5}'),
	mycelium.task('D', 'agent-d', 'demo-agent', dependencies => '{B,C}'))) AS wf \gset
SELECT mycelium.wait_workflow(:'wf', '60 s')->'tasks'->'D' AS task_d;
SELECT * FROM demo.timeline(:'wf');

\echo
\echo '=== retry: fails twice, then succeeds (back-off 0.2 s, then 0.4 s)'
SELECT demo.run('retry', jsonb_build_array(
	mycelium.task('flaky', 'agent-f', 'demo-agent', initial_delay => 0.2,
				  input => '{"fail_times": 2}'))) AS wf \gset
SELECT mycelium.wait_workflow(:'wf', '60 s')->'tasks'->'flaky' AS flaky;
SELECT * FROM demo.timeline(:'wf');

\echo
\echo '=== allow_failure: an optional step fails, the workflow goes on'
SELECT demo.run('allow_failure', jsonb_build_array(
	mycelium.task('optional', 'agent-o', 'demo-agent', max_attempts => 1, allow_failure => true,
				  input => '{"fail_times": 1}'),
	mycelium.task('report', 'agent-r', 'demo-agent', dependencies => '{optional}'))) AS wf \gset
SELECT mycelium.wait_workflow(:'wf', '60 s')->>'status' AS status;
SELECT * FROM demo.timeline(:'wf');

\echo
\echo '=== failure: a step fails for good; the rest is skipped and the workflow fails'
SELECT demo.run('failure', jsonb_build_array(
	mycelium.task('fetch', 'agent-f', 'demo-agent'),
	mycelium.task('parse', 'agent-p', 'demo-agent', dependencies => '{fetch}', max_attempts => 2,
				  initial_delay => 0.1, input => '{"fail_times": 9}'),
	mycelium.task('store', 'agent-s', 'demo-agent', dependencies => '{parse}'))) AS wf \gset
SELECT r->>'status' AS status, r->>'error' AS error
  FROM mycelium.wait_workflow(:'wf', '60 s') r;
SELECT * FROM demo.timeline(:'wf');

\echo
\echo '=== all example workflows'
SELECT name, status, version, task_count,
	   round(extract(epoch FROM finished_at - started_at)::numeric, 2) AS seconds
  FROM mycelium.workflows WHERE name IS NOT NULL ORDER BY created_at;
