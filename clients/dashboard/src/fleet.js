// fleet.js: agent types and the worker pool, for the dashboard's "Agents"
// page, read from the extension's operator views (doc/api.md, "What an
// operator watches").  The views are security_invoker: the counts are of
// the role's own workflows (an admin's: all), and the pool shows every
// worker's state but another role's workflow and role only to an admin.
// Each view answers in a few milliseconds with 100,000 active workflows
// (bench/fleets_views.sh), so the page may refresh them at every poll.

// agentTypes: per registered agent type, from mycelium.agent_type_stats:
// whether external agents or a function run it, its ready tasks (of
// running workflows) and running ones, how long the oldest ready task has
// waited, lapsed leases, the last hour's outcomes and attempt lengths, and
// its limits (set_agent_type_limits)
export async function agentTypes(db) {
	return db.query(`
		SELECT s.agent_type,
			   CASE WHEN s.external THEN 'external' ELSE 'function' END AS executor,
			   s.ready::int AS ready,
			   s.running::int AS running,
			   pg_catalog.round(pg_catalog.date_part('epoch', s.oldest_ready_age)::numeric, 1)::float8
				   AS oldest_ready_seconds,
			   s.lapsed_leases::int AS lapsed_leases,
			   s.completed_last_hour::int AS completed_last_hour,
			   s.failed_last_hour::int AS failed_last_hour,
			   pg_catalog.round(s.p50_ms::numeric, 1)::float8 AS p50_ms,
			   pg_catalog.round(s.p95_ms::numeric, 1)::float8 AS p95_ms,
			   s.max_running,
			   s.rate,
			   s.rate_per::text AS rate_per
		  FROM mycelium.agent_type_stats s
		 ORDER BY s.agent_type`);
}

// workerPool: the executor pool, from mycelium.worker_pool_summary (one
// row), worker_pool (a row per worker that is starting or running) and
// worker_pool_by_role (the roles whose tasks the workers hold)
export async function workerPool(db) {
	const [summary, workers, byRole] = await Promise.all([
		db.query(`
			SELECT p.max_workers, p.running::int AS running, p.starting::int AS starting,
				   p.busy::int AS busy, p.idle::int AS idle, p.executing::int AS executing
			  FROM mycelium.worker_pool_summary p`),
		db.query(`
			SELECT p.slot, p.state, p.pid, p.busy, p.executing, p.idle,
				   p.workflow_id, p.task_no, p.attempt, p.roles::text[] AS roles, p.role_tasks
			  FROM mycelium.worker_pool p
			 ORDER BY p.slot`),
		db.query(`
			SELECT r.role::text AS role, r.workers::int AS workers, r.tasks::int AS tasks
			  FROM mycelium.worker_pool_by_role r
			 ORDER BY 1`),
	]);
	return { summary: summary[0] ?? null, workers, byRole };
}
