// fleet.js: agent types and the worker pool, for the dashboard's "Agents"
// page.
//
// The fleets issue will add per-agent-type and worker-pool views to the
// extension; until then these two functions compute what can be had from
// what exists: tasks grouped by agent type (from mycelium.tasks, so only the
// role's own workflows count) and the scheduler's processes from
// pg_stat_activity (their queries and states are visible only to roles
// with pg_read_all_stats or superuser; others see the processes alone).
// When the fleets views exist, only the statements below change: the page
// reads rows by column name.

// agentTypes: per registered agent type (and any type with tasks), whether
// a function or external agents run it, its ready tasks (of running
// workflows: those that can be claimed or dispatched now), its running
// tasks, and
// the tasks that completed or failed in the last hour
export async function agentTypes(db) {
	return db.query(`
		SELECT COALESCE(e.agent_type, t.agent_type) AS agent_type,
			   CASE WHEN e.agent_type IS NULL THEN 'unregistered'
					WHEN e.executor IS NULL THEN 'external'
					ELSE e.executor::text END AS executor,
			   COALESCE(t.ready, 0)::int AS ready,
			   COALESCE(t.running, 0)::int AS running,
			   COALESCE(t.completed_last_hour, 0)::int AS completed_last_hour,
			   COALESCE(t.failed_last_hour, 0)::int AS failed_last_hour
		  FROM mycelium.executors e
		  FULL JOIN (
			SELECT t.agent_type,
				   pg_catalog.count(*) FILTER (WHERE t.status = 'ready' AND w.status = 'running') AS ready,
				   pg_catalog.count(*) FILTER (WHERE t.status = 'running') AS running,
				   pg_catalog.count(*) FILTER (WHERE t.status = 'completed'
					   AND t.finished_at > pg_catalog.now() - interval '1 hour') AS completed_last_hour,
				   pg_catalog.count(*) FILTER (WHERE t.status = 'failed'
					   AND t.finished_at > pg_catalog.now() - interval '1 hour') AS failed_last_hour
			  FROM mycelium.tasks t
			  JOIN mycelium.workflows w ON w.workflow_id = t.workflow_id
			 WHERE t.status IN ('ready', 'running', 'completed', 'failed')
			 GROUP BY t.agent_type) t ON t.agent_type = e.agent_type
		 ORDER BY 1`);
}

// workerPool: the scheduler's launcher and workers (pg_stat_activity), and
// the workers (scheduler workers or external agents) holding the role's
// running tasks
export async function workerPool(db) {
	const [processes, holders] = await Promise.all([
		db.query(`
			SELECT a.pid, a.backend_type, a.datname, a.state, a.wait_event_type, a.wait_event,
				   a.backend_start, a.xact_start, a.query_start,
				   pg_catalog.left(a.query, 200) AS query
			  FROM pg_catalog.pg_stat_activity a
			 WHERE a.backend_type IN ('mycelium launcher', 'mycelium worker')
			 ORDER BY a.backend_type, a.pid`),
		db.query(`
			SELECT t.worker_id, t.agent_type, pg_catalog.count(*)::int AS running,
				   pg_catalog.min(t.started_at) AS oldest_started_at,
				   pg_catalog.min(t.lease_until) AS next_lease_end
			  FROM mycelium.tasks t
			 WHERE t.status = 'running'
			 GROUP BY 1, 2
			 ORDER BY 1, 2`),
	]);
	return { processes, holders };
}
