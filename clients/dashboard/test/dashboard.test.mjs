// dashboard.test.mjs: the dashboard against a real PostgreSQL server with
// mycelium preloaded (its scheduler running), in Debian's headless
// Chromium driven by playwright-core.
//
//   MC_DASHBOARD_TEST_DSN="host=/tmp/x port=5432 dbname=dash user=postgres" node --test test/
//
// The DSN is a superuser's (trust authentication): the tests make two
// login roles, dash_alice and dash_bob, members of mycelium_user, and run a
// dashboard as each.  test/run-tests runs these tests on a throwaway cluster.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

import { createDashboard } from '../src/server.js';
import { parseDsn } from '../src/db.js';
import { launchBrowser } from './browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const adminDsn = process.env.MC_DASHBOARD_TEST_DSN;
if (!adminDsn) throw new Error('MC_DASHBOARD_TEST_DSN is not set');

let admin;              // a superuser's connection
let browser;
const dashes = {};      // role -> { url, close, db }

// as: runs statements as a role (SET ROLE on the superuser's connection)
async function as(role, text, params = []) {
	await admin.query(`SET ROLE ${role}`);
	try {
		return (await admin.query(text, params)).rows;
	} finally {
		await admin.query('RESET ROLE');
	}
}

// startDashboard: a dashboard connected as role, listening on a free port;
// its fallback poll is a minute apart unless told otherwise, so what shows
// within seconds came through NOTIFY
async function startDashboard(role, pollSeconds = 60) {
	const dsn = role === null ? adminDsn : `${adminDsn} user=${role}`;
	const dash = createDashboard({ dsn, pollSeconds });
	await new Promise((resolve) => dash.server.listen(0, '127.0.0.1', resolve));
	return { ...dash, url: `http://127.0.0.1:${dash.server.address().port}` };
}

// openPage: a new browser page at url, recording page errors
async function openPage(url) {
	const page = await browser.context.newPage();
	page.errors = [];
	page.on('pageerror', (e) => page.errors.push(e.message));
	await page.goto(url);
	return page;
}

// diamond: a -> b, a -> c, b and c -> d, where c fails (its executor
// raises) and so the workflow fails; returns its id once it has finished
async function failedDiamond(role) {
	const [{ id }] = await as(role, `
		SELECT mycelium.create_workflow(jsonb_build_array(
			mycelium.task('a', 'x', 'dash_ok'),
			mycelium.task('b', 'x', 'dash_ok', dependencies => '{a}'),
			mycelium.task('c', 'x', 'dash_boom', dependencies => '{a}', max_attempts => 1),
			mycelium.task('d', 'x', 'dash_ok', dependencies => '{b,c}')), name => 'diamond') AS id`);
	await as(role, 'SELECT mycelium.start_workflow($1)', [id]);
	await as(role, `SELECT mycelium.wait_workflow($1, '60 s')`, [id]);
	return id;
}

before(async () => {
	admin = new pg.Client(parseDsn(adminDsn));
	await admin.connect();
	await admin.query(`
		DO $$
		BEGIN
			IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dash_alice') THEN
				CREATE ROLE dash_alice LOGIN IN ROLE mycelium_user;
			END IF;
			IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dash_bob') THEN
				CREATE ROLE dash_bob LOGIN IN ROLE mycelium_user;
			END IF;
		END $$;
		CREATE OR REPLACE FUNCTION public.dash_ok(ctx jsonb) RETURNS jsonb LANGUAGE sql
			AS $f$ SELECT jsonb_build_object('done', ctx->'task'->>'task_id') $f$;
		CREATE OR REPLACE FUNCTION public.dash_boom(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql
			AS $f$ BEGIN RAISE EXCEPTION 'dash_boom refuses %', ctx->'task'->>'task_id'; END $f$;
		SELECT mycelium.register_executor('dash_ok', 'public.dash_ok(jsonb)');
		SELECT mycelium.register_executor('dash_boom', 'public.dash_boom(jsonb)');
		SELECT mycelium.register_executor('dash_ext', NULL);`);
	browser = await launchBrowser();
	dashes.alice = await startDashboard('dash_alice');
	dashes.bob = await startDashboard('dash_bob');
	dashes.admin = await startDashboard(null);
});

after(async () => {
	for (const d of Object.values(dashes)) await d.close();
	if (browser) await browser.close();
	if (admin) await admin.end();
});

test('the list shows a new workflow within 2 s of its creation (NOTIFY, not the poll)', async () => {
	const page = await openPage(`${dashes.alice.url}/#/`);
	await page.waitForSelector('#workflows-table');
	await page.waitForSelector('#live.on');
	const [{ id }] = await as('dash_alice', `
		SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('only', 'x', 'dash_ext')),
			name => 'fresh') AS id`);
	const created = Date.now();
	await page.waitForSelector(`tr[data-workflow-id="${id}"]`, { timeout: 2000 });
	const elapsed = Date.now() - created;
	assert.ok(elapsed < 2000, `shown after ${elapsed} ms`);
	assert.equal(await page.textContent(`tr[data-workflow-id="${id}"] .wf-name`), 'fresh');
	assert.deepEqual(page.errors, []);
	await page.close();
});

test('the graph of a diamond has 4 nodes and 4 edges in the status colours; a failed task shows its error_type', async () => {
	const id = await failedDiamond('dash_alice');
	await as('dash_alice', `SELECT mycelium.record_event($1, 'checkpoint-reached', '{"n": 1}', 'agent-a')`, [id]);
	await as('dash_alice', `SELECT mycelium.send_handoff($1, mycelium.create_handoff('agent-a', 'dash_ok',
		'agent-d', 'dash_ok', 'summarize the findings'))`, [id]);
	const page = await openPage(`${dashes.alice.url}/#/workflow/${id}`);
	await page.waitForSelector('#graph[data-rendered] svg', { timeout: 15000 });
	// its events and handoff messages
	await page.waitForSelector('#main[data-loaded]');
	assert.match(await page.textContent('#events'), /checkpoint-reached/);
	assert.match(await page.textContent('#handoffs'), /agent-d \(dash_ok\)/);
	assert.match(await page.textContent('#handoffs'), /summarize the findings/);
	const source = (await (await fetch(`${dashes.alice.url}/api/workflows/${id}/graph`)).json()).mermaid;
	// the status colours, from workflow_graph's classDef lines
	const fills = Object.fromEntries([...source.matchAll(/classDef (\w+) fill:(#[0-9a-f]{6})/g)].map((m) => [m[1], m[2]]));
	assert.equal(fills.failed, '#ffc9c9');
	const nodes = await page.$$eval('#graph svg g.node', (gs) => gs.map((g) => {
		const shape = g.querySelector('rect, polygon, path');
		const rgb = getComputedStyle(shape).fill.match(/\d+/g).slice(0, 3).map(Number);
		return { text: g.textContent.replace(/\s+/g, ' ').trim(), fill: `#${rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}` };
	}));
	assert.equal(nodes.length, 4, JSON.stringify(nodes));
	const edges = await page.$$eval('#graph svg .edgePaths path', (ps) => ps.length);
	assert.equal(edges, 4);
	const statuses = Object.fromEntries((await as('dash_alice',
		'SELECT task_id, status::text FROM mycelium.tasks WHERE workflow_id = $1', [id])).map((r) => [r.task_id, r.status]));
	assert.equal(statuses.c, 'failed');
	assert.equal(statuses.d, 'skipped');
	for (const n of nodes) {
		// a label's lines are "task id" and "status"
		const taskId = Object.keys(statuses).find((k) => n.text.replace(/ /g, '') === k + statuses[k]);
		assert.ok(taskId, `node ${n.text} names a task and its status`);
		assert.equal(n.fill, fills[statuses[taskId]], `the colour of ${n.text}`);
	}
	// the failed task: its error_type in the tasks table and in its details
	const row = page.locator('tr[data-task-id="c"]');
	assert.equal(await row.locator('.error-type').textContent(), 'exception');
	await row.click();
	await page.waitForSelector('#task-error .error-type');
	assert.equal(await page.textContent('#task-error .error-type'), 'exception');
	assert.match(await page.textContent('#task-error'), /dash_boom refuses c/);
	assert.match(await page.textContent('#task-detail'), /"sqlstate": "P0001"/);
	// the gantt chart is drawn, and the timeline lists the attempts
	await page.waitForSelector('#gantt[data-rendered] svg');
	assert.ok(await page.locator('#timeline tbody tr').count() >= 2);
	assert.ok(await page.locator('#history tbody tr').count() >= 6);
	assert.deepEqual(page.errors, []);
	await page.close();
});

test('the list filters by status, a part of the name and the creation time', async () => {
	const tag = `filt-${Date.now()}`;
	const [{ id: pendingId, t }] = await as('dash_alice', `
		SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('t', 'x', 'dash_ext')),
			name => $1 || '-Pending') AS id, clock_timestamp() AS t`, [tag]);
	const [{ id: runningId }] = await as('dash_alice', `
		SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('t', 'x', 'dash_ext')),
			name => $1 || '-running') AS id`, [tag]);
	await as('dash_alice', 'SELECT mycelium.start_workflow($1)', [runningId]);
	const get = async (qs) => (await (await fetch(`${dashes.alice.url}/api/workflows?${qs}`)).json())
		.workflows.map((w) => w.workflow_id);
	assert.deepEqual(await get(`name=${tag.toUpperCase()}`), [runningId, pendingId]);
	assert.deepEqual(await get(`name=${tag}&status=pending`), [pendingId]);
	assert.deepEqual(await get(`name=${tag}&status=running`), [runningId]);
	assert.deepEqual(await get(`name=${tag}&until=${encodeURIComponent(new Date(t.getTime() - 60000).toISOString())}`), []);
	assert.deepEqual(await get(`name=${tag}&since=${encodeURIComponent(new Date(t.getTime() - 60000).toISOString())}`), [runningId, pendingId]);
	// in the page: typing a name and choosing a status
	const page = await openPage(`${dashes.alice.url}/#/`);
	await page.waitForSelector('#workflows-table');
	await page.fill('#filter-name', tag);
	await page.waitForFunction((n) => document.querySelectorAll('#workflows-table tbody tr').length === n, 2);
	await page.selectOption('#filter-status', 'pending');
	await page.waitForFunction(() => document.querySelectorAll('#workflows-table tbody tr').length === 1);
	assert.equal(await page.getAttribute('#workflows-table tbody tr', 'data-workflow-id'), pendingId);
	assert.deepEqual(page.errors, []);
	await page.close();
});

test('a role sees only its own workflows', async () => {
	const aliceId = await failedDiamond('dash_alice');
	const [{ id: bobId }] = await as('dash_bob', `
		SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('t', 'x', 'dash_ext')),
			name => 'bobs') AS id`);
	const [{ n: bobCount }] = await as('dash_bob', 'SELECT count(*)::int AS n FROM mycelium.workflows');
	const page = await openPage(`${dashes.bob.url}/#/`);
	await page.waitForSelector(`tr[data-workflow-id="${bobId}"]`);
	const owners = await page.$$eval('#workflows-table tbody tr td:nth-child(5)', (tds) => tds.map((t) => t.textContent));
	assert.ok(owners.length >= 1);
	assert.deepEqual([...new Set(owners)], ['dash_bob']);
	assert.equal(Number(await page.getAttribute('#workflow-list', 'data-total')), bobCount);
	assert.equal(await page.locator(`tr[data-workflow-id="${aliceId}"]`).count(), 0);
	// alice's workflow, asked for by id, does not exist for bob
	await page.goto(`${dashes.bob.url}/#/workflow/${aliceId}`);
	await page.waitForSelector('#wf-error');
	assert.match(await page.textContent('#wf-error'), /no such workflow/);
	for (const p of ['', '/tasks', '/graph', '/history', '/timeline'])
		assert.equal((await fetch(`${dashes.bob.url}/api/workflows/${aliceId}${p}`)).status,
			p === '' || p === '/graph' ? 404 : 200);
	assert.equal((await (await fetch(`${dashes.bob.url}/api/workflows/${aliceId}/tasks`)).json()).total, 0);
	// the admin's dashboard sees both
	const all = await (await fetch(`${dashes.admin.url}/api/workflows?limit=500`)).json();
	const ids = all.workflows.map((w) => w.workflow_id);
	assert.ok(ids.includes(aliceId) && ids.includes(bobId));
	assert.deepEqual(page.errors, []);
	await page.close();
});

test('hostile task ids, inputs and names render as text', async () => {
	const hostile = [
		'<img src=x onerror="window.__xss=1">',
		'<script>window.__xss=2</script>',
		'a"]-->evil["b',
		'%%{init: {"securityLevel": "loose"}}%%',
		'click t1 call alert(3)',
		'x --> y; style t1 fill:#f00',
		'&lt;b&gt;entity&lt;/b&gt;',
	];
	const tasks = hostile.map((t, i) => ({
		task_id: t, agent_id: '<i>agent</i>', agent_type: 'dash_ext',
		dependencies: i === 0 ? [] : [hostile[i - 1]],
		input: { html: '<b id="injected">bold</b>' },
	}));
	const [{ id }] = await as('dash_alice', `
		SELECT mycelium.create_workflow($1::jsonb, name => '<h1 id="injected">name</h1>') AS id`, [JSON.stringify(tasks)]);
	const page = await openPage(`${dashes.alice.url}/#/workflow/${id}`);
	await page.waitForSelector('#graph[data-rendered] svg', { timeout: 15000 });
	await page.locator(`tr[data-task-id="${hostile[0].replace(/"/g, '\\"')}"]`).click();
	await page.waitForSelector('#task-detail:not([hidden])');
	// nothing was interpreted as markup or script
	assert.equal(await page.evaluate(() => window.__xss), undefined);
	assert.equal(await page.locator('img').count(), 0);
	assert.equal(await page.locator('#injected').count(), 0);
	assert.equal(await page.locator('main script, main b, main i').count(), 0);
	// every id is shown as written, in the tasks table and in the graph
	const cells = await page.$$eval('#tasks-table td.task-id', (tds) => tds.map((t) => t.textContent));
	assert.deepEqual(cells.sort(), [...hostile].sort());
	assert.equal(await page.locator('#graph svg g.node').count(), hostile.length);
	assert.equal(await page.locator('#graph svg .edgePaths path').count(), hostile.length - 1);
	const graphText = (await page.textContent('#graph svg')).replace(/\s+/g, '');
	for (const t of hostile)
		assert.ok(graphText.includes(t.replace(/\s+/g, '')), `graph shows ${t} as text`);
	assert.match(await page.textContent('h1'), /<h1 id="injected">name<\/h1>/);
	assert.match(await page.textContent('#task-detail'), /<b id=\\?"injected\\?">bold<\/b>/);
	assert.deepEqual(page.errors, []);
	await page.close();
});

test('a list of 1,000 workflows and a workflow of 10,000 tasks paint in under 2 s', async () => {
	await as('dash_bob', `
		SELECT count(mycelium.create_workflow(jsonb_build_array(mycelium.task('t', 'x', 'dash_ext')),
			name => 'bulk-' || i)) FROM generate_series(1, 1000) i`);
	const [{ id }] = await as('dash_bob', `
		SELECT mycelium.create_workflow(
			(SELECT jsonb_agg(mycelium.task('task-' || i, 'x', 'dash_ext',
					dependencies => CASE WHEN i > 100 THEN ARRAY['task-' || (i / 100)] ELSE '{}' END))
			   FROM generate_series(1, 10000) i), name => 'big') AS id`);
	await as('dash_bob', 'SELECT mycelium.start_workflow($1)', [id]);

	const page = await browser.context.newPage();
	let t0 = Date.now();
	await page.goto(`${dashes.bob.url}/#/`);
	await page.waitForSelector('#workflows-table tbody tr');
	const listMs = Date.now() - t0;
	assert.ok(Number(await page.getAttribute('#workflow-list', 'data-total')) >= 1001);
	assert.equal(await page.locator('#workflows-table tbody tr').count(), 50);

	t0 = Date.now();
	await page.goto(`${dashes.bob.url}/#/workflow/${id}`);
	await page.waitForSelector('#tasks-table tbody tr');
	const bigMs = Date.now() - t0;
	assert.equal(await page.locator('#tasks-table tbody tr').count(), 100);
	assert.match(await page.textContent('#tasks'), /of 10000/);
	// the graph of 10,000 tasks is summarized, not drawn
	await page.waitForSelector('#graph[data-kind="summary"]');
	assert.match(await page.textContent('#graph'), /10000 tasks/);
	console.log(`first paint: list of 1,000+ workflows ${listMs} ms, workflow of 10,000 tasks ${bigMs} ms`);
	assert.ok(listMs < 2000, `the list painted after ${listMs} ms`);
	assert.ok(bigMs < 2000, `the workflow painted after ${bigMs} ms`);
	await page.close();
	await as('dash_bob', 'SELECT mycelium.cancel_workflow($1)', [id]);
});

test('the agents page shows an agent type\'s ready and running tasks and limits, and the pool\'s workers, refreshed by the poll', async () => {
	await admin.query(`
		CREATE OR REPLACE FUNCTION public.dash_sleep(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql
			AS $f$ BEGIN PERFORM pg_sleep((ctx->'task'->'input'->>'s')::float8); RETURN NULL; END $f$;
		SELECT mycelium.register_executor('dash_sleep', 'public.dash_sleep(jsonb)');
		SELECT mycelium.set_agent_type_limits('dash_ext', 6, 40, '1 minute');`);
	// a dashboard of alice's whose poll ticks every 2 s: claims notify nobody
	const dash = await startDashboard('dash_alice', 2);
	let id = null;
	try {
		const page = await openPage(`${dash.url}/#/agents`);
		await page.waitForSelector('#main[data-loaded]');
		const row = '#agent-types tr[data-agent-type="dash_ext"]';
		assert.equal(await page.textContent(`${row} td.max-running`), '6');
		assert.equal(await page.textContent(`${row} td.rate`), '40 per 00:01:00');
		[{ id }] = await as('dash_alice', `
			SELECT mycelium.create_workflow(jsonb_build_array(
				mycelium.task('e1', 'x', 'dash_ext'), mycelium.task('e2', 'x', 'dash_ext'),
				mycelium.task('e3', 'x', 'dash_ext'),
				mycelium.task('s', 'x', 'dash_sleep', input => '{"s": 60}')), name => 'pool') AS id`);
		await as('dash_alice', 'SELECT mycelium.start_workflow($1)', [id]);
		await as('dash_alice', `SELECT count(*) FROM mycelium.claim_tasks('dash_ext', 'agent-pool', max_tasks => 1)`);
		const [want] = await as('dash_alice', `SELECT ready::int, running::int
			FROM mycelium.agent_type_stats WHERE agent_type = 'dash_ext'`);
		assert.ok(want.ready >= 2 && want.running >= 1, JSON.stringify(want));
		// the claim is shown at a tick of the poll (2 s), not at a notification
		await page.waitForFunction(([r, ready, running]) => {
			const tr = document.querySelector(r);
			return tr && tr.querySelector('td.ready').textContent === String(ready)
				&& tr.querySelector('td.running').textContent === String(running);
		}, [row, want.ready, want.running], { timeout: 8000 })
			.catch(async (e) => { throw new Error(`page shows ${await page.textContent(row)}, want ${JSON.stringify(want)}: ${e.message}`); });
		// the worker running the sleeping task: alice sees her workflow in it
		const worker = await page.waitForFunction((wf) => [...document.querySelectorAll('#worker-pool tr.worker')]
			.some((tr) => tr.querySelector('td.workflow').textContent === wf
				&& tr.querySelector('td.doing').textContent === 'executing'
				&& /dash_alice \(1\)/.test(tr.querySelector('td.roles').textContent)), id, { timeout: 15000 })
			.catch(async (e) => { throw new Error(`pool: ${await page.textContent('#worker-pool')}: ${e.message}`); });
		assert.ok(worker);
		assert.ok(Number(await page.textContent('#pool-summary td.busy')) >= 1);
		assert.ok(Number(await page.textContent('#pool-summary td.max-workers')) >= 1);
		assert.equal(await page.textContent('#pool-by-role tr[data-role="dash_alice"] td.tasks'), '1');
		// bob sees the busy worker but not alice's workflow or role
		const bobPool = await (await fetch(`${dashes.bob.url}/api/workers`)).json();
		assert.ok(!JSON.stringify(bobPool).includes(id));
		assert.deepEqual(bobPool.byRole, []);
		assert.deepEqual(page.errors, []);
		await page.close();
	} finally {
		if (id !== null) await as('dash_alice', `SELECT mycelium.cancel_workflow($1)`, [id]);
		await dash.close();
		await admin.query(`SELECT mycelium.set_agent_type_limits('dash_ext')`);
	}
	// alice's ready tasks of dash_ext (of running workflows) count hers only
	const alice = await (await fetch(`${dashes.alice.url}/api/agent-types`)).json();
	const [{ n }] = await as('dash_alice', `SELECT count(*)::int AS n
		FROM mycelium.tasks t JOIN mycelium.workflows w USING (workflow_id)
		WHERE t.agent_type = 'dash_ext' AND t.status = 'ready' AND w.status = 'running'`);
	assert.equal(alice.find((r) => r.agent_type === 'dash_ext').ready, n);
});

test('a workflow page and the agents page follow changes live', async () => {
	const [{ id }] = await as('dash_alice', `
		SELECT mycelium.create_workflow(jsonb_build_array(
			mycelium.task('p', 'x', 'dash_ext'), mycelium.task('q', 'x', 'dash_ext'),
			mycelium.task('r', 'x', 'dash_ext')), name => 'live') AS id`);
	const wfPage = await openPage(`${dashes.alice.url}/#/workflow/${id}`);
	await wfPage.waitForSelector('#main[data-loaded]');
	await wfPage.waitForSelector('#live.on');
	assert.equal(await wfPage.getAttribute('#wf-head h1 .status', 'data-status'), 'pending');
	const agentsPage = await openPage(`${dashes.alice.url}/#/agents`);
	await agentsPage.waitForSelector('#main[data-loaded]');
	await agentsPage.waitForSelector('#live.on');
	const ready = async () => Number(await agentsPage.textContent('#agent-types tr[data-agent-type="dash_ext"] td.ready'));
	const before = await ready();
	await as('dash_alice', 'SELECT mycelium.start_workflow($1)', [id]);
	const started = Date.now();
	await wfPage.waitForSelector('#wf-head h1 .status[data-status="running"]', { timeout: 2000 });
	await wfPage.waitForSelector('tr[data-task-id="p"] .status[data-status="ready"]', { timeout: 2000 });
	await agentsPage.waitForFunction((n) => Number(document.querySelector(
		'#agent-types tr[data-agent-type="dash_ext"] td.ready').textContent) === n, before + 3, { timeout: 2000 })
		.catch(async (e) => { throw new Error(`ready ${await ready()}, before ${before}: ${e.message}`); });
	assert.ok(Date.now() - started < 2000);
	await as('dash_alice', `SELECT mycelium.cancel_workflow($1, 'done with it')`, [id]);
	await wfPage.waitForSelector('#wf-head h1 .status[data-status="cancelled"]', { timeout: 2000 });
	// the two pages refresh on the same notification, each at its own pace
	await agentsPage.waitForFunction((n) => Number(document.querySelector(
		'#agent-types tr[data-agent-type="dash_ext"] td.ready').textContent) === n, before, { timeout: 2000 })
		.catch(async (e) => { throw new Error(`ready ${await ready()}, before ${before}: ${e.message}`); });
	await wfPage.close();
	await agentsPage.close();
});

test('the API refuses bad input and the connections are read-only', async () => {
	const u = dashes.alice.url;
	for (const [p, re] of [
		['/api/workflows/not-a-uuid', /not a workflow id/],
		['/api/workflows?status=bogus', /status must be/],
		['/api/workflows?since=yesterday-ish', /since must be a time/],
		['/api/workflows?limit=100000', /limit must be/],
		['/api/workflows?offset=-1', /offset must be/],
		['/api/workflows/00000000-0000-0000-0000-000000000000/tasks?status=nope', /status must be/],
	]) {
		const res = await fetch(u + p);
		assert.equal(res.status, 400, p);
		assert.match((await res.json()).error, re);
	}
	assert.equal((await fetch(`${u}/api/workflows/00000000-0000-0000-0000-000000000000`)).status, 404);
	assert.equal((await fetch(`${u}/api/nothing`)).status, 404);
	assert.equal((await fetch(`${u}/api/workflows`, { method: 'POST' })).status, 405);
	const [{ default_transaction_read_only: ro }] = await dashes.alice.db.query('SHOW default_transaction_read_only');
	assert.equal(ro, 'on');
	await assert.rejects(dashes.alice.db.query(
		`SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('t', 'x', 'dash_ext')))`),
	(err) => err.code === '25006');
	const res = await fetch(`${u}/`);
	assert.match(res.headers.get('content-security-policy'), /default-src 'self'/);
});

test('the command listens on 127.0.0.1 by default and refuses a missing DSN', async () => {
	const bin = path.join(here, '..', 'bin', 'mycelium-dashboard.js');
	const run = (args) => new Promise((resolve) => {
		const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, MYCELIUM_DSN: '' } });
		let out = '';
		child.stdout.on('data', (d) => {
			out += d;
			if (/http:\/\//.test(out)) child.kill('SIGTERM');
		});
		child.stderr.on('data', (d) => { out += d; });
		child.on('exit', (code) => resolve({ code, out }));
	});
	const bad = await run([]);
	assert.equal(bad.code, 2);
	assert.match(bad.out, /a DSN is required/);
	const ok = await run(['--dsn', `${adminDsn} user=dash_alice`, '--port', '0']);
	assert.match(ok.out, /http:\/\/127\.0\.0\.1:\d+\//);
});
