-- mycelium: external agents
--
-- A program outside the database takes part in a workflow by claiming the
-- ready tasks of an agent type registered with a NULL executor, keeping
-- its lease alive with heartbeats, and reporting each attempt's outcome.
-- When such tasks become ready, NOTIFY mycelium_ready (payload: the agent
-- type) is sent once per commit, so agents can LISTEN instead of polling.

CREATE FUNCTION mycelium.claim_tasks(
	agent_type text,
	worker_id text,
	max_tasks integer DEFAULT 1,
	lease interval DEFAULT '5 minutes')
RETURNS TABLE (workflow_id uuid, task_id text, attempt integer,
			   lease_until timestamptz, ctx jsonb)
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_claim_tasks';
COMMENT ON FUNCTION mycelium.claim_tasks(text, text, integer, interval) IS
	'claims up to max_tasks ready tasks of an external agent type for worker_id, each with its execution context; the lease lapses unless renewed by heartbeat()';

CREATE FUNCTION mycelium.heartbeat(
	workflow_id uuid,
	task_id text,
	worker_id text,
	progress jsonb DEFAULT NULL,
	lease interval DEFAULT NULL)
RETURNS timestamptz
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_heartbeat';
COMMENT ON FUNCTION mycelium.heartbeat(uuid, text, text, jsonb, interval) IS
	'extends the lease of a claimed task (by the claim''s lease unless given, never past the task''s timeout) and records progress; returns when the lease now lapses';

CREATE FUNCTION mycelium.complete_task(
	workflow_id uuid,
	task_id text,
	worker_id text,
	result jsonb DEFAULT NULL)
RETURNS mycelium.task_status
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_complete_task';
COMMENT ON FUNCTION mycelium.complete_task(uuid, text, text, jsonb) IS
	'records the result of a claimed task; returns its new status (completed, or ready/failed when the result breaks the agent type''s output schema)';

CREATE FUNCTION mycelium.complete_tasks(
	worker_id text,
	workflow_ids uuid[],
	task_ids text[],
	results jsonb[] DEFAULT NULL)
RETURNS TABLE (workflow_id uuid, task_id text, status mycelium.task_status)
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_complete_tasks';
COMMENT ON FUNCTION mycelium.complete_tasks(text, uuid[], text[], jsonb[]) IS
	'records the results of several claimed tasks at once (task_ids[i] of workflow_ids[i] with results[i]), all or none; returns each task''s new status';

CREATE FUNCTION mycelium.fail_task(
	workflow_id uuid,
	task_id text,
	worker_id text,
	error text,
	error_type text DEFAULT 'agent_error')
RETURNS mycelium.task_status
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_fail_task';
COMMENT ON FUNCTION mycelium.fail_task(uuid, text, text, text, text) IS
	'records a failed attempt of a claimed task, error its message and error_type its kind (lower-case letters, digits and _); returns its new status (ready: it will be retried, or failed)';
