-- mycelium: pictures of workflows

CREATE FUNCTION mycelium.workflow_timeline(workflow_id uuid)
RETURNS TABLE (
	task_id text,
	attempt integer,
	outcome text,
	started_at timestamptz,
	finished_at timestamptz,
	duration interval,
	error text,
	execution_time double precision,
	error_detail jsonb)
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- PL/pgSQL for Citus, as workflow_history; the lateral subquery names
	-- the workflow's id too, so that Citus routes the statement to the
	-- workflow's shard group (it cannot tell which shards a subquery
	-- correlated with another table's row reads)
	RETURN QUERY
	SELECT t.task_id, h.attempt,
		   CASE WHEN e.status IS NULL THEN 'running'
				WHEN e.status IN ('ready', 'pending') AND e.error IS NOT NULL THEN 'retried'
				WHEN e.status IN ('ready', 'pending') THEN 'rolled back'
				ELSE e.status END,
		   h.changed_at, e.changed_at, e.changed_at - h.changed_at, e.error,
		   e.execution_time, e.error_detail
	  FROM mycelium.workflow_state_history h
	  JOIN mycelium.task_states t
		ON t.workflow_id = h.workflow_id AND t.task_no = h.task_no
	  LEFT JOIN LATERAL (
		SELECT x.status, x.error, x.changed_at, x.execution_time, x.error_detail
		  FROM mycelium.workflow_state_history x
		 WHERE x.workflow_id = workflow_timeline.workflow_id AND x.task_no = h.task_no
		   AND x.version > h.version
		 ORDER BY x.version
		 LIMIT 1) e ON true
	 WHERE h.workflow_id = workflow_timeline.workflow_id
	   AND h.task_no > 0 AND h.status = 'running'
	 ORDER BY t.task_no, h.version;
END;
$$;
COMMENT ON FUNCTION mycelium.workflow_timeline(uuid) IS
	'every attempt of every task of a workflow, from its history: when it started, how it ended (retried: failed and tried again), how long its executor ran (ms) and its error';

CREATE FUNCTION mycelium.workflow_graph(workflow_id uuid, format text DEFAULT 'mermaid')
RETURNS text
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'mc_workflow_graph';
COMMENT ON FUNCTION mycelium.workflow_graph(uuid, text) IS
	'the workflow as a picture: mermaid (flowchart), dot (Graphviz) or gantt (Mermaid chart of its task runs), coloured by status';
