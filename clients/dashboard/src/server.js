// server.js: the dashboard's HTTP server.
//
// Serves the page (public/), mermaid from the installed npm package (never
// from the internet), a JSON API of read-only queries (queries.js,
// fleet.js) and /api/live, a Server-Sent Events stream that tells the
// pages to refresh.  The stream is fed by LISTEN on two channels, which
// the extension notifies per workflow, never per task: mycelium_workflows
// (workflows created, deleted, started, paused or resumed; empty payload)
// and mycelium_workflow_end (a workflow completed, failed or was
// cancelled).  A fallback poll, every few seconds (at least 2), refreshes
// the pages when a visible workflow changed otherwise (its tasks' progress
// notifies nobody) and ticks the agents page, whose operator views (ready
// and running tasks, the worker pool) change with every task.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

import { Db } from './db.js';
import * as q from './queries.js';
import { agentTypes, workerPool } from './fleet.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const publicDir = path.join(here, '..', 'public');
const require = createRequire(import.meta.url);

// static files: URL path -> [file, content type]
function staticFiles() {
	const mermaidDir = path.dirname(require.resolve('mermaid/package.json'));
	return {
		'/': [path.join(publicDir, 'index.html'), 'text/html; charset=utf-8'],
		'/app.js': [path.join(publicDir, 'app.js'), 'text/javascript; charset=utf-8'],
		'/app.css': [path.join(publicDir, 'app.css'), 'text/css; charset=utf-8'],
		'/vendor/mermaid.min.js': [path.join(mermaidDir, 'dist', 'mermaid.min.js'), 'text/javascript; charset=utf-8'],
	};
}

// the page may load scripts, styles and data from this server only
const SECURITY_HEADERS = {
	'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
	'X-Content-Type-Options': 'nosniff',
	'Referrer-Policy': 'no-referrer',
};

// sendJson: a JSON response
function sendJson(res, status, body) {
	const text = JSON.stringify(body);
	res.writeHead(status, {
		...SECURITY_HEADERS,
		'Content-Type': 'application/json; charset=utf-8',
		'Cache-Control': 'no-store',
	});
	res.end(text);
}

// errorStatus: the HTTP status of an error from a route
function errorStatus(err) {
	if (err instanceof q.BadRequest) return 400;
	// PostgreSQL: invalid input (22xxx), not found (MY003), not allowed (42501)
	if (typeof err.code === 'string') {
		if (err.code.startsWith('22')) return 400;
		if (err.code === 'MY003') return 404;
		if (err.code === '42501') return 403;
	}
	return 500;
}

// createDashboard: the server (not yet listening) and a close function
export function createDashboard({ dsn, pollSeconds = 5, log = () => {} }) {
	if (!(pollSeconds >= 2))
		throw new Error('the fallback poll must be at least 2 seconds apart');
	const db = new Db(dsn);
	const files = staticFiles();
	const clients = new Set();
	let lastSig = null;
	let pending = null;

	// broadcast: one SSE event to every open page (changes are gathered
	// for 100 ms, so a burst of notifications is one refresh)
	const broadcast = (kind) => {
		if (kind === 'tick') {
			for (const res of clients) res.write(`event: tick\ndata: {}\n\n`);
			return;
		}
		if (pending) return;
		pending = setTimeout(() => {
			pending = null;
			for (const res of clients) res.write(`event: change\ndata: {}\n\n`);
		}, 100);
	};

	db.listen(['mycelium_workflows', 'mycelium_workflow_end'], () => broadcast('change'),
		(up) => log(up ? 'listening for notifications' : 'notification connection lost'));

	// the fallback poll: refresh pages when the visible workflows changed
	// (a task's progress notifies nobody), and tick the agents page
	const poll = setInterval(async () => {
		if (clients.size === 0) return;
		try {
			const sig = await q.changeSignature(db);
			if (lastSig !== null && sig !== lastSig) broadcast('change');
			lastSig = sig;
		} catch (err) {
			log(`poll: ${err.message}`);
		}
		broadcast('tick');
	}, pollSeconds * 1000);

	// api routes: [method regexp, handler(match, params)]
	const wf = '/api/workflows/([^/]+)';
	const routes = [
		[/^\/api\/workflows$/, (m, p) => q.listWorkflows(db, p)],
		[new RegExp(`^${wf}$`), async (m) => q.getWorkflow(db, m[1])],
		[new RegExp(`^${wf}/tasks$`), (m, p) => q.listTasks(db, m[1], p)],
		[new RegExp(`^${wf}/tasks/([^/]+)$`), (m) => q.getTask(db, m[1], m[2])],
		[new RegExp(`^${wf}/graph$`), (m) => q.getGraph(db, m[1])],
		[new RegExp(`^${wf}/gantt$`), (m) => q.getGantt(db, m[1])],
		[new RegExp(`^${wf}/timeline$`), (m, p) => q.getTimeline(db, m[1], p)],
		[new RegExp(`^${wf}/history$`), (m, p) => q.getHistory(db, m[1], p)],
		[new RegExp(`^${wf}/handoffs$`), (m, p) => q.getHandoffs(db, m[1], p)],
		[new RegExp(`^${wf}/events$`), (m, p) => q.getEvents(db, m[1], p)],
		[/^\/api\/agent-types$/, () => agentTypes(db)],
		[/^\/api\/workers$/, () => workerPool(db)],
		[/^\/api\/whoami$/, async () => (await db.query(
			`SELECT current_user AS role,
					pg_catalog.pg_has_role('mycelium_admin', 'MEMBER') AS admin`))[0]],
	];

	const server = http.createServer(async (req, res) => {
		let url;
		try {
			url = new URL(req.url, 'http://localhost');
		} catch {
			res.writeHead(400).end();
			return;
		}
		if (req.method !== 'GET' && req.method !== 'HEAD') {
			res.writeHead(405, { Allow: 'GET, HEAD' }).end();
			return;
		}
		if (url.pathname === '/favicon.ico') {
			res.writeHead(204).end();
			return;
		}
		const file = files[url.pathname];
		if (file) {
			res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': file[1], 'Cache-Control': 'no-cache' });
			fs.createReadStream(file[0]).pipe(res);
			return;
		}
		if (url.pathname === '/api/live') {
			res.writeHead(200, {
				...SECURITY_HEADERS,
				'Content-Type': 'text/event-stream',
				'Cache-Control': 'no-store',
				Connection: 'keep-alive',
			});
			res.write('retry: 2000\nevent: hello\ndata: {}\n\n');
			clients.add(res);
			req.on('close', () => clients.delete(res));
			return;
		}
		for (const [re, handler] of routes) {
			const m = re.exec(url.pathname);
			if (!m) continue;
			try {
				const args = m.map((s, i) => (i === 0 ? s : decodeURIComponent(s)));
				const body = await handler(args, url.searchParams);
				if (body === null) sendJson(res, 404, { error: 'no such workflow or task (or not visible to this role)' });
				else sendJson(res, 200, body);
			} catch (err) {
				const status = err instanceof URIError ? 400 : errorStatus(err);
				if (status === 500) log(`${url.pathname}: ${err.message}`);
				sendJson(res, status, { error: err.message, sqlstate: err.code ?? null });
			}
			return;
		}
		sendJson(res, 404, { error: 'not found' });
	});

	const close = async () => {
		clearInterval(poll);
		if (pending) clearTimeout(pending);
		for (const res of clients) res.end();
		clients.clear();
		const closed = new Promise((resolve) => server.close(resolve));
		server.closeAllConnections?.();
		await closed;
		await db.close();
	};
	return { server, close, db };
}
