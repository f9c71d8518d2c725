-- mycelium: what an operator watches (issue 31, fleets)
--
-- agent_type_stats: per agent type, the tasks waiting and running, lapsed
-- leases, and the last hour's outcomes and attempt lengths; it counts the
-- ready tasks with ready_task_count (src/api/api_operator.c).  The views
-- are security_invoker: a role counts its own workflows' tasks, an admin
-- all.
-- worker_pool, worker_pool_summary and worker_pool_by_role: the executor
-- pool as shared memory has it (worker_pool_slots, src/api_pool.c).

-- running tasks by agent type, and tasks finished by agent type and time,
-- for agent_type_stats; the running tasks' index, as the agents' one in
-- 10_catalog.sql, only for statements that say "task_no >= 0" (those that
-- count running tasks by type, and recovery), so that the scheduler's
-- statements on a batch's tasks never scan every running task
CREATE INDEX task_states_running_idx ON mycelium.task_states (agent_type)
	WHERE status = 'running' AND task_no >= 0;
CREATE INDEX task_states_finished_idx ON mycelium.task_states (agent_type, finished_at)
	WHERE status IN ('completed', 'failed');
-- ready tasks by agent type and since when they are ready:
-- agent_type_stats finds the oldest from the start of this index (owner,
-- for row-level security, is in it), of a running workflow; ready tasks
-- of workflows not running (pending or paused) ready_task_count finds
-- through workflow_states_waiting_idx and leaves out.  Every ready task
-- has a ready_at; the predicate says so,
-- which keeps the scheduler's statements on ready tasks (which do not)
-- from planning with this index
CREATE INDEX task_states_ready_at_idx ON mycelium.task_states (agent_type, ready_at)
	INCLUDE (owner) WHERE status = 'ready' AND ready_at IS NOT NULL;
-- ready tasks by agent type and owner, which ready_task_count counts: its
-- keys repeat, so the index keeps each (agent type, owner) once with the
-- list of its tasks (deduplication), a few pages for 100,000 ready tasks;
-- predicate as task_states_ready_at_idx's
CREATE INDEX task_states_ready_count_idx ON mycelium.task_states (agent_type, owner)
	WHERE status = 'ready' AND ready_at IS NOT NULL;
CREATE INDEX workflow_states_waiting_idx ON mycelium.workflow_states (status)
	WHERE status IN ('pending', 'paused');

CREATE FUNCTION mycelium.ready_task_count(agent_type text)
RETURNS bigint
LANGUAGE c STABLE STRICT
AS 'MODULE_PATHNAME', 'mc_ready_task_count';
COMMENT ON FUNCTION mycelium.ready_task_count(text) IS
	'how many tasks of the agent type are ready in running workflows the current role may see (its own, an admin''s all), counted from task_states_ready_count_idx: agent_type_stats.ready';

CREATE VIEW mycelium.agent_type_stats WITH (security_invoker = true) AS
SELECT e.agent_type,
	   e.executor IS NULL AS external,
	   mycelium.ready_task_count(e.agent_type) AS ready,
	   GREATEST(pg_catalog.now() -
				(SELECT t.ready_at
				   FROM mycelium.task_states t
				   JOIN mycelium.workflow_states w ON w.workflow_id = t.workflow_id
				  WHERE t.agent_type = e.agent_type AND t.status = 'ready'
					AND t.ready_at IS NOT NULL AND w.status = 'running'
				  ORDER BY t.ready_at LIMIT 1), interval '0') AS oldest_ready_age,
	   (SELECT pg_catalog.count(*)
		  FROM mycelium.task_states t
		 WHERE t.agent_type = e.agent_type AND t.status = 'running'
		   AND t.task_no >= 0) AS running,
	   (SELECT pg_catalog.count(*)
		  FROM mycelium.task_states t
		 WHERE t.lease_until < pg_catalog.now()
		   AND t.agent_type = e.agent_type AND t.status = 'running'
		   AND t.task_no >= 0) AS lapsed_leases,
	   f.completed_last_hour, f.failed_last_hour, f.p50_ms, f.p95_ms,
	   e.max_running, e.rate, e.rate_per
  FROM mycelium.executors e
 CROSS JOIN LATERAL (
	SELECT pg_catalog.count(*) FILTER (WHERE t.status = 'completed') AS completed_last_hour,
		   pg_catalog.count(*) FILTER (WHERE t.status = 'failed') AS failed_last_hour,
		   pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY t.execution_time) AS p50_ms,
		   pg_catalog.percentile_cont(0.95) WITHIN GROUP (ORDER BY t.execution_time) AS p95_ms
	  FROM mycelium.task_states t
	 WHERE t.agent_type = e.agent_type AND t.status IN ('completed', 'failed')
	   AND t.finished_at > pg_catalog.now() - interval '1 hour') f;
COMMENT ON VIEW mycelium.agent_type_stats IS
	'per registered agent type: ready tasks (of running workflows) and running tasks, how long the oldest ready task has waited, lapsed leases of external agents, tasks completed and failed in the last hour and the p50/p95 length of their last attempt (ms), and the agent type''s limits (set_agent_type_limits); the current role''s workflows, an admin''s all';

CREATE FUNCTION mycelium.worker_pool_slots()
RETURNS TABLE (
	slot integer,
	state text,
	pid integer,
	busy boolean,
	executing boolean,
	idle boolean,
	workflow_id uuid,
	task_no integer,
	attempt integer,
	roles regrole[],
	role_tasks integer[])
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_worker_pool_slots';
COMMENT ON FUNCTION mycelium.worker_pool_slots() IS
	'the executor pool''s worker slots that are not free, from shared memory; another role''s workflow and role are not shown to a non-admin';

CREATE VIEW mycelium.worker_pool WITH (security_invoker = true) AS
SELECT p.slot, p.state, p.pid, p.busy, p.executing, p.idle,
	   p.workflow_id, p.task_no, p.attempt, p.roles, p.role_tasks
  FROM mycelium.worker_pool_slots() p;
COMMENT ON VIEW mycelium.worker_pool IS
	'each executor worker: starting or running, busy (holds claimed tasks) or idle, the attempt it runs, the roles it holds tasks for';

CREATE VIEW mycelium.worker_pool_summary WITH (security_invoker = true) AS
SELECT pg_catalog.current_setting('mycelium.max_workers')::integer AS max_workers,
	   pg_catalog.count(*) FILTER (WHERE p.state = 'running') AS running,
	   pg_catalog.count(*) FILTER (WHERE p.state = 'starting') AS starting,
	   pg_catalog.count(*) FILTER (WHERE p.busy) AS busy,
	   pg_catalog.count(*) FILTER (WHERE p.idle) AS idle,
	   pg_catalog.count(*) FILTER (WHERE p.executing) AS executing
  FROM mycelium.worker_pool_slots() p;
COMMENT ON VIEW mycelium.worker_pool_summary IS
	'the executor pool at a glance: its size limit, workers running and starting, busy, idle and running an attempt now';

CREATE VIEW mycelium.worker_pool_by_role WITH (security_invoker = true) AS
SELECT r.role, pg_catalog.count(*) AS workers, pg_catalog.sum(r.tasks)::bigint AS tasks
  FROM mycelium.worker_pool_slots() p
 CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(p.roles), pg_catalog.unnest(p.role_tasks)) AS r(role, tasks)
 GROUP BY r.role;
COMMENT ON VIEW mycelium.worker_pool_by_role IS
	'per role: the workers holding claimed tasks of its workflows and how many tasks (a non-admin sees its own role only)';

REVOKE ALL ON FUNCTION mycelium.ready_task_count(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.ready_task_count(text) TO mycelium_user;
REVOKE ALL ON mycelium.agent_type_stats, mycelium.worker_pool,
	mycelium.worker_pool_summary, mycelium.worker_pool_by_role FROM PUBLIC;
GRANT SELECT ON mycelium.agent_type_stats, mycelium.worker_pool,
	mycelium.worker_pool_summary, mycelium.worker_pool_by_role TO mycelium_user;
