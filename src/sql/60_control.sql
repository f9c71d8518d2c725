-- mycelium: running and controlling workflows

CREATE FUNCTION mycelium.start_workflow(workflow_id uuid, start_at timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_start_workflow';
COMMENT ON FUNCTION mycelium.start_workflow(uuid, timestamptz) IS
	'starts a pending workflow in the background when the caller commits, or at start_at (stored, so it survives a restart); returns the new version';

CREATE FUNCTION mycelium.execute_workflow(workflow_id uuid, timeout interval DEFAULT NULL)
RETURNS jsonb
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_execute_workflow';
COMMENT ON FUNCTION mycelium.execute_workflow(uuid, interval) IS
	'starts a workflow and waits for it; returns its result, or raises MY002 if it failed';

CREATE FUNCTION mycelium.wait_workflow(workflow_id uuid, timeout interval DEFAULT NULL)
RETURNS jsonb
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_wait_workflow';
COMMENT ON FUNCTION mycelium.wait_workflow(uuid, interval) IS
	'waits for a workflow to finish and returns its result';

CREATE FUNCTION mycelium.pause_workflow(workflow_id uuid)
RETURNS bigint
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'mc_pause_workflow';
COMMENT ON FUNCTION mycelium.pause_workflow(uuid) IS
	'no new task of the workflow starts; running tasks finish';

CREATE FUNCTION mycelium.resume_workflow(workflow_id uuid)
RETURNS bigint
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'mc_resume_workflow';
COMMENT ON FUNCTION mycelium.resume_workflow(uuid) IS
	'a paused workflow runs again';

CREATE FUNCTION mycelium.cancel_workflow(workflow_id uuid, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_cancel_workflow';
COMMENT ON FUNCTION mycelium.cancel_workflow(uuid, text) IS
	'interrupts the workflow''s running tasks and cancels every unfinished task';

CREATE FUNCTION mycelium.set_workflow_priority(workflow_id uuid, priority integer)
RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_set_workflow_priority';
COMMENT ON FUNCTION mycelium.set_workflow_priority(uuid, integer) IS
	'changes a workflow''s priority (-100 to 100) and that of its tasks without one of their own, ready ones included; returns the new version';
