-- Example: a template started with variables, whose planner agent spawns
-- sub-agents at run time (add_tasks) for each item it was given, and a
-- merge step that waits for all of them; then the workflow's picture.
\pset footer off
CREATE SCHEMA planner;

-- the planner adds one researcher per topic in ctx.variables.topics and a
-- writer that depends on all of them (and on the planner itself)
CREATE FUNCTION planner.agent(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	topics jsonb := ctx->'variables'->'topics';
BEGIN
	IF ctx->'task'->>'task_id' = 'plan' THEN
		PERFORM mycelium.add_tasks((ctx->>'workflow_id')::uuid,
			(SELECT jsonb_agg(mycelium.task('research ' || t, 'researcher-' || n, 'planner-agent',
											input => jsonb_build_object('topic', t)) ORDER BY n)
			   FROM jsonb_array_elements_text(topics) WITH ORDINALITY AS x(t, n))
			|| jsonb_build_array(mycelium.task('write', 'writer', 'planner-agent',
				dependencies => (SELECT array_agg('research ' || t) FROM jsonb_array_elements_text(topics) t)
								|| '{plan}'::text[])));
		RETURN jsonb_build_object('planned', jsonb_array_length(topics));
	END IF;
	PERFORM pg_sleep(0.2);
	RETURN jsonb_build_object('by', ctx->'task'->>'agent_id',
		'read', (SELECT coalesce(jsonb_agg(p->>'task_id'), '[]') FROM jsonb_array_elements(ctx->'previous_results') p));
END $$;
SELECT mycelium.register_executor('planner-agent', 'planner.agent(jsonb)');

\echo '=== a template: one planning task; topics are a variable'
SELECT mycelium.create_template('report', jsonb_build_array(mycelium.task('plan', 'planner', 'planner-agent')),
								variables => '{"topics": ["storage"]}',
								description => 'plan, research each topic, write');
SELECT name, task_count, variables, description FROM mycelium.templates;

\echo '=== started with three topics: the planner adds four tasks while it runs'
SELECT mycelium.start_from_template('report', '{"topics": ["storage", "network", "cpu"]}') AS wf \gset
SELECT mycelium.wait_workflow(:'wf', '60 s')->>'status' AS status;
SELECT task_id, agent_id, status, result FROM mycelium.tasks WHERE workflow_id = :'wf' ORDER BY started_at, task_id;
SELECT task_id, attempt, outcome, round(extract(epoch FROM duration) * 1000) AS ms
  FROM mycelium.workflow_timeline(:'wf');

\echo '=== its graph in Mermaid (paste into any Mermaid viewer)'
\pset format unaligned
\pset tuples_only on
SELECT mycelium.workflow_graph(:'wf', 'mermaid');
\pset format aligned
\pset tuples_only off
