-- mycelium--0.1.0--0.2.0.sql
--	Updates a 0.1.0 catalog to 0.2.0 (ALTER EXTENSION mycelium UPDATE).
--
-- Every catalog change of the 0.2.0 release goes here and into the fresh
-- install script (src/sql/*.sql) alike; test/t/021_upgrade.pl checks that
-- both give the same schema and that workflows running across the update
-- finish.  Statements are schema-qualified: the script runs with
-- search_path set to the extension's schema, but must not depend on it.

\echo Use "ALTER EXTENSION mycelium UPDATE" to load this file. \quit

-- Structured errors and execution times (issues 28 and 29): a task's,
-- a history row's and a workflow's error gain error_detail jsonb
-- ({error_type, message, sqlstate, attempt}; error stays its message), and
-- tasks and history rows the execution time (ms) of the attempt that
-- ended.  0.1.0's errors are converted: error_type guessed from the text
-- (timeout, lost, lease_expired, output_schema, cancelled, else
-- exception), message = the old text.
ALTER TABLE mycelium.workflow_states ADD COLUMN error_detail jsonb;
ALTER TABLE mycelium.task_states ADD COLUMN error_detail jsonb;
ALTER TABLE mycelium.task_states ADD COLUMN execution_time double precision;
ALTER TABLE mycelium.workflow_state_history ADD COLUMN error_detail jsonb;
ALTER TABLE mycelium.workflow_state_history ADD COLUMN execution_time double precision;

COMMENT ON COLUMN mycelium.workflow_states.error IS
	'why the workflow failed or was cancelled: the message of error_detail';
COMMENT ON COLUMN mycelium.workflow_states.error_detail IS
	'why the workflow failed or was cancelled: {error_type (task_failed, cancelled), message}';
COMMENT ON COLUMN mycelium.task_states.error IS
	'why the last attempt failed: the message of error_detail';
COMMENT ON COLUMN mycelium.task_states.error_detail IS
	'why the last attempt failed: {error_type, message, sqlstate, attempt}';
COMMENT ON COLUMN mycelium.task_states.execution_time IS
	'how long the last attempt that ended ran, in milliseconds';
COMMENT ON COLUMN mycelium.workflow_state_history.error_detail IS
	'why the attempt (or the workflow) ended failed: {error_type, message, sqlstate, attempt}';
COMMENT ON COLUMN mycelium.workflow_state_history.execution_time IS
	'how long the attempt this change ended ran, in milliseconds';

CREATE FUNCTION mycelium.upgrade_error_type(error text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
RETURN CASE
	WHEN error LIKE 'task timed out after %' THEN 'timeout'
	WHEN error LIKE 'attempt % was lost: the lease of worker % lapsed' THEN 'lease_expired'
	WHEN error LIKE 'attempt % was lost: %' THEN 'lost'
	WHEN error LIKE 'result of task % does not match the output schema of agent type %' THEN 'output_schema'
	WHEN error LIKE 'not started: %' OR error LIKE 'canceling statement due to user request%' THEN 'cancelled'
	ELSE 'exception' END;
UPDATE mycelium.workflow_states
   SET error_detail = pg_catalog.jsonb_build_object(
		'error_type', CASE WHEN status = 'cancelled' THEN 'cancelled'
						   WHEN error LIKE 'task % failed%' THEN 'task_failed'
						   ELSE 'exception' END,
		'message', error)
 WHERE error IS NOT NULL;
UPDATE mycelium.task_states
   SET error_detail = pg_catalog.jsonb_build_object(
		'error_type', mycelium.upgrade_error_type(error), 'message', error,
		'attempt', attempt)
 WHERE error IS NOT NULL;
UPDATE mycelium.workflow_state_history h
   SET error_detail = CASE WHEN h.task_no = 0 THEN
		pg_catalog.jsonb_build_object(
			'error_type', CASE WHEN h.status = 'cancelled' THEN 'cancelled'
							   WHEN h.error LIKE 'task % failed%' THEN 'task_failed'
							   ELSE 'exception' END,
			'message', h.error)
		ELSE pg_catalog.jsonb_build_object(
			'error_type', mycelium.upgrade_error_type(h.error), 'message', h.error,
			'attempt', h.attempt) END
 WHERE h.error IS NOT NULL;
DROP FUNCTION mycelium.upgrade_error_type(text);

CREATE OR REPLACE VIEW mycelium.workflows WITH (security_invoker = true) AS
SELECT w.workflow_id, w.name, w.owner::text AS owner, w.status, w.version,
	   w.task_count, w.max_parallel_tasks, w.error,
	   w.created_at, w.started_at, w.finished_at, w.updated_at, w.error_detail
  FROM mycelium.workflow_states w;

CREATE OR REPLACE VIEW mycelium.tasks WITH (security_invoker = true) AS
SELECT t.workflow_id, t.task_id, t.agent_id, t.agent_type, t.status,
	   t.attempt, t.max_attempts,
	   ARRAY(SELECT d.task_id
			   FROM mycelium.task_states d
			  WHERE d.workflow_id = t.workflow_id
				AND d.task_no = ANY (t.dependencies)
			  ORDER BY d.task_no) AS dependencies,
	   t.allow_failure, t.timeout, t.input,
	   COALESCE(t.metadata, '{}') AS metadata, t.result, t.error,
	   t.run_after AS next_attempt_at, t.worker_id, t.lease_until, t.progress,
	   t.started_at, t.finished_at, t.error_detail, t.execution_time
  FROM mycelium.task_states t;

DROP FUNCTION mycelium.workflow_history(uuid);
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
LANGUAGE sql STABLE STRICT
BEGIN ATOMIC
	SELECT h.version, t.task_id, h.status, h.attempt, h.error, h.event,
		   h.changed_by, h.changed_at, h.error_detail, h.execution_time
	  FROM mycelium.workflow_state_history h
	  LEFT JOIN mycelium.task_states t
		ON t.workflow_id = h.workflow_id AND t.task_no = h.task_no
	 WHERE h.workflow_id = workflow_history.workflow_id
	 ORDER BY h.version, h.task_no;
END;
COMMENT ON FUNCTION mycelium.workflow_history(uuid) IS
	'every recorded change of a workflow, oldest first (task_id NULL: the workflow itself), with the error that ended an attempt and how long it ran (ms)';
REVOKE ALL ON FUNCTION mycelium.workflow_history(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.workflow_history(uuid) TO mycelium_user;

DROP FUNCTION mycelium.workflow_timeline(uuid);
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
LANGUAGE sql STABLE STRICT
BEGIN ATOMIC
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
		 WHERE x.workflow_id = h.workflow_id AND x.task_no = h.task_no
		   AND x.version > h.version
		 ORDER BY x.version
		 LIMIT 1) e ON true
	 WHERE h.workflow_id = workflow_timeline.workflow_id
	   AND h.task_no > 0 AND h.status = 'running'
	 ORDER BY t.task_no, h.version;
END;
COMMENT ON FUNCTION mycelium.workflow_timeline(uuid) IS
	'every attempt of every task of a workflow, from its history: when it started, how it ended (retried: failed and tried again), how long its executor ran (ms) and its error';
REVOKE ALL ON FUNCTION mycelium.workflow_timeline(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.workflow_timeline(uuid) TO mycelium_user;

-- fail_task takes the failure's error_type (issue 29), 'agent_error' by
-- default, so agents' existing four-argument calls are unchanged.
DROP FUNCTION mycelium.fail_task(uuid, text, text, text);
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
REVOKE ALL ON FUNCTION mycelium.fail_task(uuid, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.fail_task(uuid, text, text, text, text) TO mycelium_user;
