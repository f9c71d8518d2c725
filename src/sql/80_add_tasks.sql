-- mycelium: growing a workflow while it runs

CREATE FUNCTION mycelium.add_tasks(workflow_id uuid, tasks jsonb)
RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_add_tasks';
COMMENT ON FUNCTION mycelium.add_tasks(uuid, jsonb) IS
	'adds tasks (which may depend on existing ones) to a workflow that has not finished; returns the new version';
