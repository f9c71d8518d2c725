-- mycelium: views
--
-- The views are security_invoker, so row-level security on the tables
-- limits each role to its own workflows.

CREATE VIEW mycelium.workflows WITH (security_invoker = true) AS
SELECT w.workflow_id, w.name, w.owner::text AS owner, w.status, w.version,
	   w.task_count, w.max_parallel_tasks, w.error,
	   w.created_at, w.started_at, w.finished_at, w.updated_at, w.metadata,
	   w.error_detail, w.start_at
  FROM mycelium.workflow_states w;
COMMENT ON VIEW mycelium.workflows IS 'workflows visible to the current role';

CREATE VIEW mycelium.tasks WITH (security_invoker = true) AS
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
COMMENT ON VIEW mycelium.tasks IS 'tasks of the workflows visible to the current role';

CREATE VIEW mycelium.workflow_progress WITH (security_invoker = true) AS
SELECT w.workflow_id, w.name, w.status, w.version, w.task_count AS total,
	   c.pending, c.ready, c.running, c.completed, c.failed, c.skipped,
	   c.cancelled,
	   CASE WHEN w.task_count = 0 THEN 100.0
			ELSE pg_catalog.round(100.0 * (w.task_count - w.tasks_open) / w.task_count, 1)
	   END AS percent_done
  FROM mycelium.workflow_states w
 CROSS JOIN LATERAL (
	SELECT pg_catalog.count(*) FILTER (WHERE t.status = 'pending') AS pending,
		   pg_catalog.count(*) FILTER (WHERE t.status = 'ready') AS ready,
		   pg_catalog.count(*) FILTER (WHERE t.status = 'running') AS running,
		   pg_catalog.count(*) FILTER (WHERE t.status = 'completed') AS completed,
		   pg_catalog.count(*) FILTER (WHERE t.status = 'failed') AS failed,
		   pg_catalog.count(*) FILTER (WHERE t.status = 'skipped') AS skipped,
		   pg_catalog.count(*) FILTER (WHERE t.status = 'cancelled') AS cancelled
	  FROM mycelium.task_states t
	 WHERE t.workflow_id = w.workflow_id) c;
COMMENT ON VIEW mycelium.workflow_progress IS
	'per-workflow task counts by status and percentage of tasks finished';
