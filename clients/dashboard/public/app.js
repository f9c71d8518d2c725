// app.js: the dashboard's page.  Three views, chosen by the URL's hash:
//   #/                 the workflows, filterable, paginated
//   #/workflow/ID      one workflow: graph, gantt, tasks, timeline,
//                      history, handoffs, events
//   #/agents           agent types and the worker pool
// Every piece of data is put into the page as text (textContent, never
// innerHTML); the only markup inserted is the SVG that mermaid draws from
// workflow_graph's output, whose labels the extension escapes and mermaid
// (securityLevel 'strict') sanitizes.  The page refreshes the current view
// when the server's event stream (/api/live) says something changed.

const PAGE = 50;
const TASK_PAGE = 100;
let renderSeq = 0;
let current = null;            // the current view's refresh function

// el: an element with attributes and children (strings become text nodes)
function el(tag, attrs = {}, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs)) {
		if (v === null || v === undefined || v === false) continue;
		if (k === 'onclick' || k === 'onchange' || k === 'oninput') e.addEventListener(k.slice(2), v);
		else if (k === 'text') e.textContent = v;
		else e.setAttribute(k, v === true ? '' : String(v));
	}
	for (const c of children.flat()) {
		if (c === null || c === undefined || c === false) continue;
		e.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return e;
}

// api: GETs a JSON document of the server's API; throws its error message
async function api(path) {
	const res = await fetch(path, { headers: { Accept: 'application/json' } });
	const body = await res.json().catch(() => ({ error: res.statusText }));
	if (!res.ok) {
		const err = new Error(body.error || res.statusText);
		err.status = res.status;
		throw err;
	}
	return body;
}

// fmtTime: a timestamp as local date and time, or an empty string
function fmtTime(t) {
	if (!t) return '';
	const d = new Date(t);
	return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

// json: a value as indented JSON text
function json(v) {
	if (v === null || v === undefined) return '';
	if (typeof v === 'string') {
		try { return JSON.stringify(JSON.parse(v), null, 2); } catch { return v; }
	}
	return JSON.stringify(v, null, 2);
}

function statusBadge(s) {
	return el('span', { class: `status status-${s}`, 'data-status': s }, s);
}

function progressBar(pct) {
	const p = Math.max(0, Math.min(100, Number(pct) || 0));
	const inner = el('span');
	inner.style.width = `${p}%`;
	return el('span', { class: 'bar', title: `${p}%` }, inner);
}

function table(headers, rows, attrs = {}) {
	return el('table', attrs,
		el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))),
		el('tbody', {}, rows));
}

// pager: previous/next buttons; total may be null (unknown), then a page
// of fewer than limit rows (shown) is the last
function pager(offset, limit, total, go, shown = limit) {
	const more = total === null ? shown >= limit : offset + limit < total;
	return el('div', { class: 'pager' },
		el('button', { disabled: offset === 0, onclick: () => go(Math.max(0, offset - limit)) }, 'previous'),
		el('span', {}, total === null ? `${shown === 0 ? 0 : offset + 1}–${offset + shown}`
			: `${total === 0 ? 0 : offset + 1}–${Math.min(offset + limit, total)} of ${total}`),
		el('button', { disabled: !more, onclick: () => go(offset + limit) }, 'next'));
}

// mermaidLib: mermaid (served by the dashboard from its npm package),
// loaded when a diagram is first drawn, so that the list, which draws
// none, does not wait for it; initialized with the strict security level
let mermaidLoading = null;
function mermaidLib() {
	if (mermaidLoading === null) {
		mermaidLoading = new Promise((resolve) => {
			const s = document.createElement('script');
			s.src = '/vendor/mermaid.min.js';
			s.onload = () => {
				window.mermaid.initialize({
					startOnLoad: false,
					securityLevel: 'strict',
					theme: 'default',
					flowchart: { htmlLabels: false },
					maxTextSize: 2000000,
					maxEdges: 5000,
				});
				resolve(window.mermaid);
			};
			s.onerror = () => resolve(null);
			document.head.append(s);
		});
	}
	return mermaidLoading;
}

// drawMermaid: renders Mermaid source (from workflow_graph) into a box
async function drawMermaid(box, source, kind) {
	const m = await mermaidLib();
	if (!m) {
		box.replaceChildren(el('pre', {}, source));
		return;
	}
	try {
		const { svg } = await m.render(`mmd-${kind}-${++renderSeq}`, source);
		// mermaid's output, sanitized by mermaid (securityLevel strict)
		box.innerHTML = svg;
		box.setAttribute('data-rendered', 'true');
	} catch (err) {
		box.replaceChildren(el('p', { class: 'err' }, `could not draw: ${err.message}`), el('pre', {}, source));
	}
}

// ---------------------------------------------------------------- list

const listState = { status: '', name: '', since: '', until: '', offset: 0 };

// viewList: the workflows page
async function viewList(main) {
	const statusSel = el('select', { id: 'filter-status', onchange: () => { listState.status = statusSel.value; listState.offset = 0; refresh(); } },
		el('option', { value: '' }, 'any'),
		['pending', 'running', 'paused', 'cancelling', 'failing', 'completed', 'failed', 'cancelled'].map((s) => el('option', { value: s }, s)));
	statusSel.value = listState.status;
	const nameIn = el('input', { id: 'filter-name', type: 'search', placeholder: 'part of the name', value: listState.name });
	nameIn.addEventListener('input', () => { listState.name = nameIn.value; listState.offset = 0; refresh(); });
	const sinceIn = el('input', { id: 'filter-since', type: 'datetime-local', value: listState.since });
	const untilIn = el('input', { id: 'filter-until', type: 'datetime-local', value: listState.until });
	sinceIn.addEventListener('change', () => { listState.since = sinceIn.value; listState.offset = 0; refresh(); });
	untilIn.addEventListener('change', () => { listState.until = untilIn.value; listState.offset = 0; refresh(); });
	const body = el('div', { id: 'workflow-list' });
	main.replaceChildren(el('h1', {}, 'Workflows'),
		el('div', { class: 'filters' },
			el('label', {}, 'status', statusSel), el('label', {}, 'name', nameIn),
			el('label', {}, 'created from', sinceIn), el('label', {}, 'created before', untilIn)),
		body);

	let seq = 0;
	async function refresh() {
		const my = ++seq;
		const p = new URLSearchParams({ offset: listState.offset, limit: PAGE });
		if (listState.status) p.set('status', listState.status);
		if (listState.name) p.set('name', listState.name);
		if (listState.since) p.set('since', new Date(listState.since).toISOString());
		if (listState.until) p.set('until', new Date(listState.until).toISOString());
		let data;
		try {
			data = await api(`/api/workflows?${p}`);
		} catch (err) {
			if (my === seq) body.replaceChildren(el('p', { class: 'err' }, err.message));
			return;
		}
		if (my !== seq) return;
		const rows = data.workflows.map((w) => el('tr', {
			class: 'clickable', 'data-workflow-id': w.workflow_id,
			onclick: () => { location.hash = `#/workflow/${w.workflow_id}`; },
		},
		el('td', { class: 'wf-name' }, el('a', { href: `#/workflow/${w.workflow_id}` }, w.name ?? '(unnamed)')),
		el('td', {}, statusBadge(w.status)),
		el('td', {}, progressBar(w.percent_done), ` ${w.percent_done ?? 0}%`),
		el('td', {}, `${w.task_count}`, w.failed > 0 ? el('span', { class: 'err' }, ` (${w.failed} failed)`) : null),
		el('td', {}, w.owner),
		el('td', {}, fmtTime(w.created_at)),
		el('td', {}, fmtTime(w.finished_at)),
		el('td', { class: 'id' }, w.workflow_id)));
		body.replaceChildren(
			pager(data.offset, data.limit, data.total, (o) => { listState.offset = o; refresh(); }),
			table(['name', 'status', 'progress', 'tasks', 'owner', 'created', 'finished', 'id'], rows, { id: 'workflows-table' }));
		body.setAttribute('data-total', data.total);
		main.setAttribute('data-loaded', 'true');
	}
	await refresh();
	return refresh;
}

// ---------------------------------------------------------------- workflow

// viewWorkflow: one workflow's page
async function viewWorkflow(main, id) {
	const st = { taskOffset: 0, taskStatus: '', selected: null, timelineOffset: 0, historyOffset: 0 };
	const head = el('div', { id: 'wf-head' });
	const graph = el('div', { id: 'graph', class: 'diagram' });
	const gantt = el('div', { id: 'gantt', class: 'diagram' });
	const tasks = el('div', { id: 'tasks' });
	const detail = el('div', { id: 'task-detail', hidden: true });
	const timeline = el('div', { id: 'timeline' });
	const history = el('div', { id: 'history' });
	const handoffs = el('div', { id: 'handoffs' });
	const events = el('div', { id: 'events' });
	main.replaceChildren(head,
		el('h2', {}, 'Graph'), graph,
		el('h2', {}, 'Tasks'), tasks, detail,
		el('h2', {}, 'Gantt'), gantt,
		el('h2', {}, 'Timeline (attempts)'), timeline,
		el('h2', {}, 'History'), history,
		el('h2', {}, 'Handoffs'), handoffs,
		el('h2', {}, 'Events'), events);

	let lastGraph = null;
	let lastGantt = null;

	async function refreshHead() {
		let w;
		try {
			w = await api(`/api/workflows/${encodeURIComponent(id)}`);
		} catch (err) {
			head.replaceChildren(el('h1', {}, 'Workflow'), el('p', { class: 'err', id: 'wf-error' }, err.message));
			return false;
		}
		const p = w.progress || {};
		head.replaceChildren(
			el('h1', {}, w.name ?? '(unnamed)', ' ', statusBadge(w.status)),
			el('dl', { class: 'kv' },
				el('dt', {}, 'id'), el('dd', { class: 'id' }, w.workflow_id),
				el('dt', {}, 'owner'), el('dd', {}, w.owner),
				el('dt', {}, 'version'), el('dd', {}, String(w.version)),
				el('dt', {}, 'progress'), el('dd', { id: 'wf-progress' }, progressBar(p.percent_done), ` ${p.percent_done ?? 0}% of ${w.task_count} tasks: `,
					['completed', 'running', 'ready', 'pending', 'failed', 'skipped', 'cancelled']
						.filter((s) => p[s] > 0).map((s) => `${p[s]} ${s}`).join(', ')),
				el('dt', {}, 'created'), el('dd', {}, fmtTime(w.created_at)),
				el('dt', {}, 'started'), el('dd', {}, fmtTime(w.started_at)),
				el('dt', {}, 'finished'), el('dd', {}, fmtTime(w.finished_at)),
				el('dt', {}, 'durations'), el('dd', {}, w.avg_duration ? `average ${w.avg_duration}, p95 ${w.p95_duration}` : ''),
				w.error ? [el('dt', {}, 'error'), el('dd', { class: 'err' }, w.error_detail?.error_type ? el('span', { class: 'error-type' }, `${w.error_detail.error_type}: `) : null, w.error)] : null,
				el('dt', {}, 'metadata'), el('dd', {}, el('pre', {}, json(w.metadata)))));
		return true;
	}

	async function refreshGraph() {
		const g = await api(`/api/workflows/${encodeURIComponent(id)}/graph`);
		if (g.kind === 'mermaid') {
			if (g.mermaid === lastGraph) return;
			lastGraph = g.mermaid;
			await drawMermaid(graph, g.mermaid, 'graph');
			graph.setAttribute('data-kind', 'mermaid');
		} else {
			lastGraph = null;
			const types = [...new Set(g.by_agent_type.map((r) => r.agent_type))];
			const statuses = ['pending', 'ready', 'running', 'completed', 'failed', 'skipped', 'cancelled'];
			const count = (t, s) => g.by_agent_type.find((r) => r.agent_type === t && r.status === s)?.tasks ?? 0;
			graph.replaceChildren(
				el('p', { class: 'note' }, `${g.task_count} tasks: too many to draw (more than 200); tasks by agent type and status:`),
				table(['agent type', ...statuses], types.map((t) => el('tr', {}, el('td', {}, t),
					statuses.map((s) => el('td', {}, count(t, s) ? statusBadge(`${s}`) : null, count(t, s) ? ` ${count(t, s)}` : ''))))));
			graph.setAttribute('data-kind', 'summary');
		}
	}

	async function refreshGantt() {
		const g = await api(`/api/workflows/${encodeURIComponent(id)}/gantt`);
		if (g.kind === 'mermaid') {
			if (g.mermaid === lastGantt) return;
			lastGantt = g.mermaid;
			await drawMermaid(gantt, g.mermaid, 'gantt');
		} else {
			lastGantt = null;
			gantt.replaceChildren(el('p', { class: 'note' }, g.kind === 'empty' ? 'no attempt yet'
				: 'too many attempts to draw (more than 300); see the timeline below'));
		}
	}

	async function refreshTasks() {
		const p = new URLSearchParams({ offset: st.taskOffset, limit: TASK_PAGE });
		if (st.taskStatus) p.set('status', st.taskStatus);
		const data = await api(`/api/workflows/${encodeURIComponent(id)}/tasks?${p}`);
		const sel = el('select', { id: 'task-status', onchange: () => { st.taskStatus = sel.value; st.taskOffset = 0; refreshTasks(); } },
			el('option', { value: '' }, 'any status'),
			['pending', 'ready', 'running', 'completed', 'failed', 'skipped', 'cancelled'].map((s) => el('option', { value: s }, s)));
		sel.value = st.taskStatus;
		const rows = data.tasks.map((t) => el('tr', {
			class: 'clickable', 'data-task-id': t.task_id,
			onclick: () => { st.selected = t.task_id; refreshDetail(); },
		},
		el('td', { class: 'id task-id' }, t.task_id),
		el('td', {}, t.agent_type),
		el('td', {}, statusBadge(t.status)),
		el('td', {}, `${t.attempt}/${t.max_attempts}`),
		el('td', {}, t.dependencies.join(', ')),
		el('td', {}, t.execution_time === null ? '' : `${t.execution_time} ms`),
		el('td', { class: 'err' }, t.error_detail?.error_type ? el('span', { class: 'error-type' }, t.error_detail.error_type) : null,
			t.error ? `: ${t.error.slice(0, 200)}` : '')));
		tasks.replaceChildren(el('div', { class: 'filters' }, sel),
			pager(data.offset, data.limit, data.total, (o) => { st.taskOffset = o; refreshTasks(); }),
			table(['task', 'agent type', 'status', 'attempt', 'depends on', 'ran', 'error'], rows, { id: 'tasks-table' }));
	}

	async function refreshDetail() {
		if (st.selected === null) return;
		let t;
		try {
			t = await api(`/api/workflows/${encodeURIComponent(id)}/tasks/${encodeURIComponent(st.selected)}`);
		} catch (err) {
			detail.replaceChildren(el('p', { class: 'err' }, err.message));
			detail.hidden = false;
			return;
		}
		detail.replaceChildren(
			el('h2', {}, 'Task ', el('span', { class: 'id' }, t.task_id), ' ', statusBadge(t.status),
				' ', el('button', { onclick: () => { st.selected = null; detail.hidden = true; } }, 'close')),
			el('dl', { class: 'kv' },
				el('dt', {}, 'agent'), el('dd', {}, `${t.agent_id} (${t.agent_type})`),
				el('dt', {}, 'attempt'), el('dd', {}, `${t.attempt} of ${t.max_attempts}`),
				el('dt', {}, 'worker'), el('dd', {}, t.worker_id ?? ''),
				el('dt', {}, 'started'), el('dd', {}, fmtTime(t.started_at)),
				el('dt', {}, 'finished'), el('dd', {}, fmtTime(t.finished_at)),
				el('dt', {}, 'error'), el('dd', { class: 'err', id: 'task-error' },
					t.error_detail?.error_type ? el('span', { class: 'error-type' }, t.error_detail.error_type) : null,
					t.error ? ` ${t.error}` : ''),
				el('dt', {}, 'error detail'), el('dd', {}, el('pre', {}, json(t.error_detail))),
				el('dt', {}, 'input'), el('dd', {}, el('pre', {}, json(t.input))),
				el('dt', {}, 'result'), el('dd', {}, el('pre', {}, json(t.result))),
				el('dt', {}, 'metadata'), el('dd', {}, el('pre', {}, json(t.metadata)))));
		detail.hidden = false;
	}

	async function refreshTimeline() {
		const data = await api(`/api/workflows/${encodeURIComponent(id)}/timeline?offset=${st.timelineOffset}&limit=${TASK_PAGE}`);
		timeline.replaceChildren(
			pager(data.offset, data.limit, null, (o) => { st.timelineOffset = o; refreshTimeline(); }, data.attempts.length),
			table(['task', 'attempt', 'outcome', 'started', 'finished', 'ran', 'error'], data.attempts.map((a) => el('tr', {},
				el('td', { class: 'id' }, a.task_id), el('td', {}, String(a.attempt)), el('td', {}, statusBadge(a.outcome)),
				el('td', {}, fmtTime(a.started_at)), el('td', {}, fmtTime(a.finished_at)),
				el('td', {}, a.execution_time === null ? '' : `${a.execution_time} ms`),
				el('td', { class: 'err' }, a.error_detail?.error_type ? `${a.error_detail.error_type}: ` : '', a.error ?? '')))));
	}

	async function refreshHistory() {
		const data = await api(`/api/workflows/${encodeURIComponent(id)}/history?offset=${st.historyOffset}&limit=${TASK_PAGE}`);
		history.replaceChildren(
			pager(data.offset, data.limit, null, (o) => { st.historyOffset = o; refreshHistory(); }, data.history.length),
			table(['version', 'task', 'status', 'attempt', 'event', 'by', 'at', 'error'], data.history.map((h) => el('tr', {},
				el('td', {}, String(h.version)), el('td', { class: 'id' }, h.task_id ?? '(workflow)'), el('td', {}, statusBadge(h.status)),
				el('td', {}, h.attempt === null ? '' : String(h.attempt)), el('td', {}, h.event ?? ''), el('td', {}, h.changed_by ?? ''),
				el('td', {}, fmtTime(h.changed_at)), el('td', { class: 'err' }, h.error ?? '')))));
	}

	async function refreshHandoffs() {
		const data = await api(`/api/workflows/${encodeURIComponent(id)}/handoffs`);
		handoffs.replaceChildren(data.handoffs.length === 0 ? el('p', { class: 'note' }, 'none')
			: table(['#', 'to', 'sent by', 'at', 'message'], data.handoffs.map((h) => el('tr', {},
				el('td', {}, String(h.seq)), el('td', {}, `${h.target_agent_id} (${h.target_agent_type})`),
				el('td', {}, h.sent_by), el('td', {}, fmtTime(h.sent_at)), el('td', {}, el('pre', {}, json(h.message)))))));
	}

	async function refreshEvents() {
		const data = await api(`/api/workflows/${encodeURIComponent(id)}/events`);
		events.replaceChildren(data.events.length === 0 ? el('p', { class: 'note' }, 'none')
			: table(['#', 'type', 'agent', 'by', 'at', 'payload'], data.events.map((e) => el('tr', {},
				el('td', {}, String(e.event_id)), el('td', {}, e.event_type), el('td', {}, e.agent_id ?? ''),
				el('td', {}, e.recorded_by), el('td', {}, fmtTime(e.recorded_at)), el('td', {}, el('pre', {}, json(e.payload)))))));
	}

	async function refreshAll() {
		if (!(await refreshHead())) return;
		// the tasks first: they are what a person looks at; the rest after
		await refreshTasks().catch((e) => tasks.replaceChildren(el('p', { class: 'err' }, e.message)));
		await Promise.all([
			refreshGraph().catch((e) => graph.replaceChildren(el('p', { class: 'err' }, e.message))),
			refreshGantt().catch((e) => gantt.replaceChildren(el('p', { class: 'err' }, e.message))),
			refreshDetail(),
			refreshTimeline().catch(() => {}), refreshHistory().catch(() => {}),
			refreshHandoffs().catch(() => {}), refreshEvents().catch(() => {}),
		]);
		main.setAttribute('data-loaded', 'true');
	}
	await refreshAll();
	return refreshAll;
}

// ---------------------------------------------------------------- agents

// viewAgents: agent types and the worker pool, from the operator views
// (agent_type_stats, worker_pool_summary, worker_pool, worker_pool_by_role);
// refreshed at each change and at each tick of the server's poll
async function viewAgents(main) {
	const types = el('div', { id: 'agent-types' });
	const summary = el('div', { id: 'pool-summary' });
	const pool = el('div', { id: 'worker-pool' });
	const byRole = el('div', { id: 'pool-by-role' });
	main.replaceChildren(el('h1', {}, 'Agents'),
		el('h2', {}, 'Agent types'), el('p', { class: 'note' }, 'tasks of the workflows this role may see; ready: of running workflows'), types,
		el('h2', {}, 'Worker pool'), summary, pool,
		el('h3', {}, 'per role'), byRole);
	const num = (v) => (v === null || v === undefined ? '' : String(v));
	const limit = (r) => (r.rate === null ? '' : `${r.rate} per ${r.rate_per}`);
	async function refresh() {
		const [t, w] = await Promise.all([api('/api/agent-types'), api('/api/workers')]);
		types.replaceChildren(table(['agent type', 'executor', 'ready', 'running', 'oldest ready (s)', 'lapsed leases',
			'completed (last hour)', 'failed (last hour)', 'p50 (ms)', 'p95 (ms)', 'max running', 'rate'],
		t.map((r) => el('tr', { 'data-agent-type': r.agent_type },
			el('td', { class: 'id' }, r.agent_type), el('td', {}, r.executor),
			el('td', { class: 'ready' }, num(r.ready)), el('td', { class: 'running' }, num(r.running)),
			el('td', { class: 'oldest-ready' }, num(r.oldest_ready_seconds)), el('td', { class: 'lapsed' }, num(r.lapsed_leases)),
			el('td', { class: 'completed' }, num(r.completed_last_hour)), el('td', { class: 'failed' }, num(r.failed_last_hour)),
			el('td', {}, num(r.p50_ms)), el('td', {}, num(r.p95_ms)),
			el('td', { class: 'max-running' }, r.max_running === null ? 'no limit' : String(r.max_running)),
			el('td', { class: 'rate' }, r.rate === null ? 'no limit' : limit(r))))));
		const s = w.summary;
		summary.replaceChildren(s === null ? el('p', { class: 'note' }, 'no pool (mycelium is not in shared_preload_libraries)')
			: table(['max workers', 'running', 'starting', 'busy', 'idle', 'executing'], [el('tr', {},
				el('td', { class: 'max-workers' }, num(s.max_workers)), el('td', { class: 'running' }, num(s.running)),
				el('td', {}, num(s.starting)), el('td', { class: 'busy' }, num(s.busy)),
				el('td', { class: 'idle' }, num(s.idle)), el('td', { class: 'executing' }, num(s.executing)))]));
		pool.replaceChildren(w.workers.length === 0 ? el('p', { class: 'note' }, 'no worker')
			: table(['slot', 'state', 'pid', 'doing', 'workflow', 'task', 'attempt', 'holds tasks of'],
				w.workers.map((p) => el('tr', { class: 'worker', 'data-slot': String(p.slot) },
					el('td', {}, num(p.slot)), el('td', {}, p.state), el('td', {}, num(p.pid)),
					el('td', { class: 'doing' }, p.executing ? 'executing' : p.busy ? 'busy' : p.idle ? 'idle' : ''),
					el('td', { class: 'id workflow' }, p.workflow_id === null ? ''
						: el('a', { href: `#/workflow/${encodeURIComponent(p.workflow_id)}` }, p.workflow_id)),
					el('td', {}, num(p.task_no)), el('td', {}, num(p.attempt)),
					el('td', { class: 'roles' }, p.roles.map((r, i) => `${r} (${p.role_tasks[i]})`).join(', '))))));
		byRole.replaceChildren(w.byRole.length === 0 ? el('p', { class: 'note' }, 'no worker holds tasks of this role\'s workflows')
			: table(['role', 'workers', 'tasks'], w.byRole.map((r) => el('tr', { 'data-role': r.role },
				el('td', {}, r.role), el('td', { class: 'workers' }, num(r.workers)), el('td', { class: 'tasks' }, num(r.tasks))))));
		main.setAttribute('data-loaded', 'true');
		main.setAttribute('data-refreshed', String(Date.now()));
	}
	await refresh();
	return refresh;
}

// ---------------------------------------------------------------- routing

// route: shows the view the hash names
async function route() {
	const main = document.getElementById('main');
	main.removeAttribute('data-loaded');
	const h = location.hash || '#/';
	let m;
	current = null;
	try {
		if ((m = /^#\/workflow\/([^/]+)$/.exec(h))) current = await viewWorkflow(main, decodeURIComponent(m[1]));
		else if (h === '#/agents') current = await viewAgents(main);
		else current = await viewList(main);
	} catch (err) {
		main.replaceChildren(el('p', { class: 'err' }, err.message));
	}
}

// live: refreshes the current view on the server's events; one refresh
// at a time, and one more if events came during it
let refreshing = false;
let again = false;
async function liveRefresh(kind) {
	if (kind === 'tick' && !(location.hash === '#/agents')) return;
	if (!current) return;
	if (refreshing) { again = true; return; }
	refreshing = true;
	try { await current(); } catch { /* shown by the view */ }
	refreshing = false;
	if (again) { again = false; liveRefresh('change'); }
}

function connectLive() {
	const badge = document.getElementById('live');
	const es = new EventSource('/api/live');
	es.addEventListener('hello', () => { badge.className = 'live on'; });
	es.addEventListener('change', () => liveRefresh('change'));
	es.addEventListener('tick', () => liveRefresh('tick'));
	es.onerror = () => { badge.className = 'live off'; };
}

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', async () => {
	api('/api/whoami').then((w) => {
		document.getElementById('whoami').textContent = `role ${w.role}${w.admin ? ' (mycelium_admin)' : ''}`;
	}).catch(() => {});
	connectLive();
	await route();
});
