-- workflow_graph: a diamond, run in this transaction (one attempt of B
-- failed and was retried), as Mermaid and Graphviz DOT, coloured by
-- status; its task runs as a gantt chart and as a table; labels a task id
-- cannot break out of.  (test/t/009_graph_render.pl renders the DOT.)

CREATE FUNCTION regress.graph_exec(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	IF (ctx->>'attempt')::int <= coalesce((ctx->'task'->'input'->>'fail_times')::int, 0) THEN
		RAISE EXCEPTION 'planned failure';
	END IF;
	RETURN '{}';
END $$;
SELECT mycelium.register_executor('graph', 'regress.graph_exec(jsonb)');

BEGIN;
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('A', 'a', 'graph'),
	mycelium.task('B', 'b', 'graph', dependencies => '{A}', initial_delay => 0,
				  input => '{"fail_times": 1}'),
	mycelium.task('C', 'c', 'graph', dependencies => '{A}'),
	mycelium.task('D', 'd', 'graph', dependencies => '{B,C}')),
	name => 'diamond') AS wf \gset
SELECT mycelium.execute_workflow(:'wf')->>'status' AS status;
COMMIT;
SELECT mycelium.workflow_graph(:'wf');
SELECT mycelium.workflow_graph(:'wf', 'dot');
-- the timeline: every attempt, with how it ended
SELECT task_id, attempt, outcome, duration >= '0' AS timed, finished_at >= started_at AS ordered,
	   error
  FROM mycelium.workflow_timeline(:'wf');
SELECT regexp_replace(mycelium.workflow_graph(:'wf', 'gantt'),
					  '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}', '<time>', 'g') AS gantt;

-- statuses on the way: pending, ready, running, skipped, cancelled
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('first', 'a', 'external'),
	mycelium.task('second', 'a', 'external', dependencies => '{first}'),
	mycelium.task('other', 'a', 'external'),
	mycelium.task('after_other', 'a', 'external', dependencies => '{other}')),
	name => 'in progress') AS wf2 \gset
SELECT mycelium.update_task(:'wf2', 'first', 'running');
SELECT mycelium.update_task(:'wf2', 'other', 'cancelled');
SELECT mycelium.workflow_graph(:'wf2');
SELECT mycelium.workflow_graph(:'wf2', 'dot');
SELECT task_id, attempt, outcome, finished_at IS NULL AS still_running
  FROM mycelium.workflow_timeline(:'wf2');

-- hostile ids stay inside their labels
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task($$say "hi"\$$, 'a', 'external'),
	mycelium.task($$x"]; evil[" --> y #1; <b>`$$, 'a', 'external', dependencies => $${"say \"hi\"\\"}$$),
	mycelium.task('naïve ünïcode', 'a', 'external')),
	name => $$quote " and \ and ]$$) AS wf3 \gset
SELECT mycelium.workflow_graph(:'wf3', 'mermaid');
SELECT mycelium.workflow_graph(:'wf3', 'dot');

-- errors
SELECT regress.try(format($$SELECT mycelium.workflow_graph(%L, 'svg')$$, :'wf'));
SELECT regress.try(format($$SELECT mycelium.workflow_graph(%L, NULL)$$, :'wf'));
SELECT regress.try($$SELECT mycelium.workflow_graph(NULL)$$);
SET ROLE regress_bob;
SELECT regress.try(format($$SELECT mycelium.workflow_graph(%L)$$, :'wf'));
SELECT count(*) AS bob_sees FROM mycelium.workflow_timeline(:'wf');
RESET ROLE;
