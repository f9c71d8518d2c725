-- mycelium: state manager API

CREATE FUNCTION mycelium.update_task(
	workflow_id uuid,
	task_id text,
	status text,
	result jsonb DEFAULT NULL,
	error text DEFAULT NULL)
RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_update_task';
COMMENT ON FUNCTION mycelium.update_task(uuid, text, text, jsonb, text) IS
	'moves a task to a new status (a validated, atomic transition); returns the new workflow version';

CREATE FUNCTION mycelium.rollback_workflow(workflow_id uuid, version bigint)
RETURNS bigint
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'mc_rollback_workflow';
COMMENT ON FUNCTION mycelium.rollback_workflow(uuid, bigint) IS
	'returns the workflow and its tasks to their state at an earlier version, as a new version';

CREATE FUNCTION mycelium.workflow_history(workflow_id uuid)
RETURNS TABLE (
	version bigint,
	task_id text,
	status text,
	attempt integer,
	error text,
	event text,
	changed_by regrole,
	changed_at timestamptz,
	error_detail jsonb,
	execution_time double precision)
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- PL/pgSQL rather than SQL: its statement is planned with the id's
	-- value, which Citus needs to route it to the workflow's shard group
	RETURN QUERY
	SELECT h.version, t.task_id, h.status, h.attempt, h.error, h.event,
		   h.changed_by, h.changed_at, h.error_detail, h.execution_time
	  FROM mycelium.workflow_state_history h
	  LEFT JOIN mycelium.task_states t
		ON t.workflow_id = h.workflow_id AND t.task_no = h.task_no
	 WHERE h.workflow_id = workflow_history.workflow_id
	 ORDER BY h.version, h.task_no;
END;
$$;
COMMENT ON FUNCTION mycelium.workflow_history(uuid) IS
	'every recorded change of a workflow, oldest first (task_id NULL: the workflow itself), with the error that ended an attempt and how long it ran (ms)';
