// queries.js: what the dashboard reads about workflows, as SQL with
// parameters (no user text is ever put into a statement).  Every statement
// reads mycelium's views and functions, which apply row-level security:
// the dashboard's role sees its own workflows (mycelium_admin: all).
// Every list is paginated, so a workflow of 10,000 tasks or a list of
// 1,000 workflows costs one page, not the whole set.

export const WORKFLOW_STATUSES = ['pending', 'running', 'paused', 'cancelling', 'failing', 'completed', 'failed', 'cancelled'];
export const TASK_STATUSES = ['pending', 'ready', 'running', 'completed', 'failed', 'skipped', 'cancelled'];

// above this many tasks the graph is summarized instead of drawn, and
// above this many attempts the gantt chart is left out (its table stays)
export const GRAPH_MAX_TASKS = 200;
export const GANTT_MAX_ATTEMPTS = 300;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// BadRequest: input the dashboard refuses before asking the server
export class BadRequest extends Error {}

// checkUuid: a workflow id, or a BadRequest
export function checkUuid(id) {
	if (typeof id !== 'string' || !UUID_RE.test(id))
		throw new BadRequest('not a workflow id (a UUID)');
	return id;
}

// page: offset and limit from query parameters, bounded
export function page(params, defaultLimit = 50, maxLimit = 500) {
	const offset = params.get('offset') === null ? 0 : Number(params.get('offset'));
	const limit = params.get('limit') === null ? defaultLimit : Number(params.get('limit'));
	if (!Number.isInteger(offset) || offset < 0 || offset > 1e9)
		throw new BadRequest('offset must be a non-negative integer');
	if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit)
		throw new BadRequest(`limit must be an integer from 1 to ${maxLimit}`);
	return { offset, limit };
}

// timeParam: an ISO 8601 time, or null
function timeParam(params, name) {
	const v = params.get(name);
	if (v === null || v === '') return null;
	if (Number.isNaN(Date.parse(v)))
		throw new BadRequest(`${name} must be a time (ISO 8601)`);
	return new Date(v).toISOString();
}

// listWorkflows: one page of the visible workflows, newest first, filtered
// by status, a part of the name (case-insensitive) and a creation time
// range, each with its progress; and how many match in all
export async function listWorkflows(db, params) {
	const status = params.get('status') || null;
	if (status !== null && !WORKFLOW_STATUSES.includes(status))
		throw new BadRequest(`status must be one of ${WORKFLOW_STATUSES.join(', ')}`);
	const name = params.get('name') || null;
	if (name !== null && name.length > 255)
		throw new BadRequest('name filter too long');
	const since = timeParam(params, 'since');
	const until = timeParam(params, 'until');
	const { offset, limit } = page(params);
	const filter = `
		 WHERE ($1::text IS NULL OR w.status::text = $1)
		   AND ($2::text IS NULL OR pg_catalog.strpos(pg_catalog.lower(w.name), pg_catalog.lower($2)) > 0)
		   AND ($3::timestamptz IS NULL OR w.created_at >= $3)
		   AND ($4::timestamptz IS NULL OR w.created_at < $4)`;
	const args = [status, name, since, until];
	const [rows, count] = await Promise.all([
		db.query(`
			SELECT w.workflow_id, w.name, w.owner, w.status, w.version, w.task_count,
				   w.created_at, w.started_at, w.finished_at, w.error,
				   p.completed, p.failed, p.running, p.percent_done
			  FROM (SELECT w.* FROM mycelium.workflows w ${filter}
					 ORDER BY w.created_at DESC, w.workflow_id
					 LIMIT $5 OFFSET $6) w
			  LEFT JOIN LATERAL (SELECT * FROM mycelium.workflow_progress p
								  WHERE p.workflow_id = w.workflow_id) p ON true
			 ORDER BY w.created_at DESC, w.workflow_id`, [...args, limit, offset]),
		db.query(`SELECT pg_catalog.count(*)::int AS total FROM mycelium.workflows w ${filter}`, args),
	]);
	return { total: count[0].total, offset, limit, workflows: rows };
}

// getWorkflow: a workflow with its progress and statistics, or null
export async function getWorkflow(db, id) {
	checkUuid(id);
	const rows = await db.query(`
		SELECT w.workflow_id, w.name, w.owner, w.status, w.version, w.task_count,
			   w.max_parallel_tasks, w.error, w.error_detail, w.metadata,
			   w.created_at, w.started_at, w.finished_at, w.updated_at,
			   pg_catalog.to_jsonb(p) - 'workflow_id' - 'name' - 'status' - 'version' AS progress,
			   s.failure_rate, s.avg_duration::text AS avg_duration,
			   s.p95_duration::text AS p95_duration, s.handoffs, s.events, s.agents
		  FROM mycelium.workflows w
		  LEFT JOIN mycelium.workflow_progress p ON p.workflow_id = w.workflow_id
		  LEFT JOIN mycelium.workflow_statistics s ON s.workflow_id = w.workflow_id
		 WHERE w.workflow_id = $1`, [id]);
	return rows[0] ?? null;
}

// listTasks: one page of a workflow's tasks (by task id), optionally of
// one status; input and result are cut to 2,000 characters here (the
// task's own page has them whole)
export async function listTasks(db, id, params) {
	checkUuid(id);
	const status = params.get('status') || null;
	if (status !== null && !TASK_STATUSES.includes(status))
		throw new BadRequest(`status must be one of ${TASK_STATUSES.join(', ')}`);
	const { offset, limit } = page(params, 100, 1000);
	const [rows, count] = await Promise.all([
		db.query(`
			SELECT t.task_id, t.agent_id, t.agent_type, t.status, t.attempt, t.max_attempts,
				   t.dependencies, t.worker_id, t.started_at, t.finished_at, t.execution_time,
				   t.error, t.error_detail,
				   pg_catalog.left(t.input::text, 2000) AS input,
				   pg_catalog.left(t.result::text, 2000) AS result
			  FROM mycelium.tasks t
			 WHERE t.workflow_id = $1 AND ($2::text IS NULL OR t.status::text = $2)
			 ORDER BY t.task_id
			 LIMIT $3 OFFSET $4`, [id, status, limit, offset]),
		db.query(`
			SELECT pg_catalog.count(*)::int AS total FROM mycelium.tasks t
			 WHERE t.workflow_id = $1 AND ($2::text IS NULL OR t.status::text = $2)`, [id, status]),
	]);
	return { total: count[0].total, offset, limit, tasks: rows };
}

// getTask: one task whole (input, result, structured error), or null
export async function getTask(db, id, taskId) {
	checkUuid(id);
	const rows = await db.query(`
		SELECT t.* FROM mycelium.tasks t WHERE t.workflow_id = $1 AND t.task_id = $2`, [id, taskId]);
	return rows[0] ?? null;
}

// getGraph: the workflow's graph as workflow_graph's Mermaid flowchart,
// or, past GRAPH_MAX_TASKS tasks, a summary: task counts by status and by
// agent type (a flowchart of thousands of nodes is neither drawable in
// time nor readable)
export async function getGraph(db, id) {
	const wf = await getWorkflow(db, id);
	if (wf === null) return null;
	if (wf.task_count <= GRAPH_MAX_TASKS) {
		const rows = await db.query(`SELECT mycelium.workflow_graph($1, 'mermaid') AS mermaid`, [id]);
		return { kind: 'mermaid', mermaid: rows[0].mermaid, task_count: wf.task_count };
	}
	const byType = await db.query(`
		SELECT t.agent_type, t.status::text AS status, pg_catalog.count(*)::int AS tasks
		  FROM mycelium.tasks t WHERE t.workflow_id = $1
		 GROUP BY 1, 2 ORDER BY 1, 2`, [id]);
	return { kind: 'summary', task_count: wf.task_count, progress: wf.progress, by_agent_type: byType };
}

// getGantt: workflow_graph's Mermaid gantt chart of the task runs, unless
// there are more than GANTT_MAX_ATTEMPTS attempts
export async function getGantt(db, id) {
	const wf = await getWorkflow(db, id);
	if (wf === null) return null;
	if (wf.task_count > GANTT_MAX_ATTEMPTS) return { kind: 'too_large', task_count: wf.task_count };
	const rows = await db.query(`
		SELECT pg_catalog.count(*)::int AS attempts FROM mycelium.workflow_timeline($1)`, [id]);
	if (rows[0].attempts > GANTT_MAX_ATTEMPTS)
		return { kind: 'too_large', attempts: rows[0].attempts };
	if (rows[0].attempts === 0) return { kind: 'empty' };
	const g = await db.query(`SELECT mycelium.workflow_graph($1, 'gantt') AS gantt`, [id]);
	return { kind: 'mermaid', mermaid: g[0].gantt, attempts: rows[0].attempts };
}

// getTimeline: one page of every attempt of every task
export async function getTimeline(db, id, params) {
	checkUuid(id);
	const { offset, limit } = page(params, 100, 1000);
	const rows = await db.query(`
		SELECT r.task_id, r.attempt, r.outcome, r.started_at, r.finished_at,
			   r.duration::text AS duration, r.error, r.execution_time, r.error_detail
		  FROM mycelium.workflow_timeline($1) r
		 LIMIT $2 OFFSET $3`, [id, limit, offset]);
	return { offset, limit, attempts: rows };
}

// getHistory: one page of the workflow's changes, newest first
export async function getHistory(db, id, params) {
	checkUuid(id);
	const { offset, limit } = page(params, 100, 1000);
	const rows = await db.query(`
		SELECT h.version, h.task_id, h.status, h.attempt, h.error, h.event,
			   h.changed_by, h.changed_at, h.error_detail, h.execution_time
		  FROM mycelium.workflow_history($1) h
		 ORDER BY h.version DESC, h.task_id
		 LIMIT $2 OFFSET $3`, [id, limit, offset]);
	return { offset, limit, history: rows };
}

// getHandoffs: one page of the handoff messages sent to the workflow
export async function getHandoffs(db, id, params) {
	checkUuid(id);
	const { offset, limit } = page(params, 50, 500);
	const rows = await db.query(`
		SELECT h.seq, h.message_id, h.target_agent_id, h.target_agent_type,
			   h.sent_by, h.sent_at, h.message
		  FROM mycelium.handoffs h
		 WHERE h.workflow_id = $1
		 ORDER BY h.seq
		 LIMIT $2 OFFSET $3`, [id, limit, offset]);
	return { offset, limit, handoffs: rows };
}

// getEvents: one page of the workflow's custom events
export async function getEvents(db, id, params) {
	checkUuid(id);
	const { offset, limit } = page(params, 100, 1000);
	const rows = await db.query(`
		SELECT e.event_id, e.event_type, e.payload, e.agent_id, e.worker_id,
			   e.recorded_by, e.recorded_at
		  FROM mycelium.workflow_events e
		 WHERE e.workflow_id = $1
		 ORDER BY e.event_id
		 LIMIT $2 OFFSET $3`, [id, limit, offset]);
	return { offset, limit, events: rows };
}

// changeSignature: a cheap summary of the visible workflows that changes
// when any of them does (the fallback poll compares it)
export async function changeSignature(db) {
	const rows = await db.query(`
		SELECT pg_catalog.count(*)::text || '/' || COALESCE(pg_catalog.max(w.updated_at)::text, '')
			   || '/' || COALESCE(pg_catalog.sum(w.version)::text, '') AS sig
		  FROM mycelium.workflows w`);
	return rows[0].sig;
}
