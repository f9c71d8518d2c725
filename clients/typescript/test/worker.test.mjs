// The Worker against a real server: concurrency, lost connections,
// graceful stop, lost leases, failures and retries.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client, Worker, task } from '../src/index.js';
import { connect, memoryLogger, newAgentType, sleep, waitFor } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
let sql;
let client;
before(async () => { sql = await connect(); client = await Client.connect({}); });
after(async () => { await sql.close(); await client.close(); });

/** Runs the worker until the workflow ends; resolves to its result. */
async function serveUntil(worker, workflowId) {
  const running = worker.run();
  try {
    return await client.waitWorkflow(workflowId, 60);
  } finally {
    worker.stop();
    await running;
  }
}

const running = async (workerId) => Number((await sql(
  "SELECT count(*) AS n FROM mycelium.task_states WHERE worker_id = $1 AND status = 'running'",
  [workerId]))[0].n);

test('concurrency N runs N handlers at once', async () => {
  const agentType = await newAgentType(sql);
  const n = 5;
  let active = 0;
  let peak = 0;
  let held = 0;
  const workerId = `conc-${agentType}`;
  const wf = await client.runWorkflow(Array.from({ length: 4 * n }, (_, i) => task(`t${i}`, agentType)),
    { maxParallelTasks: 100 });
  const worker = new Worker({}, agentType, async (ctx) => {
    active += 1;
    peak = Math.max(peak, active);
    held = Math.max(held, await running(workerId));
    await sleep(400);
    active -= 1;
    return { task: ctx.taskId };
  }, { concurrency: n, workerId, logger: memoryLogger() });
  const result = await serveUntil(worker, wf);
  assert.equal(result.status, 'completed');
  assert.equal(peak, n, 'n handlers ran at once, never more');
  // no more tasks held than handlers, plus results on their way
  assert.ok(held >= n && held <= 2 * n, `held ${held}`);
  assert.equal(worker.stats.completed, 4 * n);
  assert.equal(worker.stats.claimed, 4 * n);
});

test('a backend terminated mid-task: the result is still recorded once', async () => {
  const agentType = await newAgentType(sql);
  const logger = memoryLogger();
  let release;
  const go = new Promise((resolve) => { release = resolve; });
  let started = false;
  const worker = new Worker({}, agentType, async (ctx) => {
    started = true;
    await go;
    return { done: ctx.taskId };
  }, { concurrency: 2, workerId: `term-${agentType}`, lease: 30, heartbeatInterval: 0.2, logger });
  const wf = await client.runWorkflow([task('a', agentType, { maxAttempts: 1 })]);
  const run = worker.run();
  const app = `mycelium-agent ${worker.workerId}`;
  const count = async () => Number((await sql(
    'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [app]))[0].n);
  await waitFor(async () => started && (await count()) === 3, "the worker's three connections");
  const killed = Number((await sql(
    'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = $1',
    [app]))[0].n);
  assert.equal(killed, 3);
  await waitFor(async () => (await count()) === 0, 'the backends to exit');
  release();
  const result = await client.waitWorkflow(wf, 60);
  worker.stop();
  await run;
  assert.equal(result.status, 'completed');
  assert.deepEqual(result.tasks.a.result, { done: 'a' });
  assert.equal(result.tasks.a.attempt, 1);
  const rows = await sql("SELECT status::text AS s FROM mycelium.workflow_history($1) WHERE task_id = 'a'", [wf]);
  assert.equal(rows.filter((r) => r.s === 'completed').length, 1);
  assert.equal(rows.filter((r) => r.s === 'running').length, 1);
  assert.match(logger.text(), /connection lost/);
});

async function newWorkflow(agentType, n) {
  const [{ id }] = await sql(
    "SELECT mycelium.create_workflow((SELECT jsonb_agg(mycelium.task('t' || i, 'a', $1, max_attempts => 1)) "
    + 'FROM generate_series(1, $2) i))::text AS id', [agentType, n]);
  await sql('SELECT mycelium.start_workflow($1)', [id]);
  return id;
}

async function stopAgent(agentType, workerId, sleepSeconds, grace) {
  const child = spawn(process.execPath, [path.join(here, 'stop-agent.mjs'), agentType, workerId,
    String(sleepSeconds), String(grace)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  child.stdout.resume();
  await waitFor(async () => (await running(workerId)) === 4, '4 tasks claimed');
  const t0 = Date.now();
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  return { code, err, seconds: (Date.now() - t0) / 1000 };
}

test('SIGTERM: running tasks finish', async () => {
  const agentType = await newAgentType(sql);
  const wf = await newWorkflow(agentType, 4);
  const { code, err } = await stopAgent(agentType, `stop-finish-${agentType}`, 1.5, 60);
  assert.equal(code, 0, err);
  assert.match(err, /stopped/);
  const [{ status }] = await sql('SELECT status::text FROM mycelium.workflows WHERE workflow_id = $1', [wf]);
  assert.equal(status, 'completed', err);
});

test('SIGTERM with max_attempts 1: tasks are released and the workflow does not fail', async () => {
  const agentType = await newAgentType(sql);
  const wf = await newWorkflow(agentType, 4);
  const workerId = `stop-release-${agentType}`;
  const { code, err, seconds } = await stopAgent(agentType, workerId, 600, 0.2);
  assert.equal(code, 0, err);
  assert.ok(seconds < 30);
  const [{ status }] = await sql('SELECT status::text FROM mycelium.workflows WHERE workflow_id = $1', [wf]);
  assert.equal(status, 'running');
  const [{ s }] = await sql("SELECT string_agg(status::text || attempt, ',') AS s FROM mycelium.tasks WHERE workflow_id = $1", [wf]);
  assert.equal(s, 'ready0,ready0,ready0,ready0');
  const [{ n }] = await sql('SELECT count(*)::int AS n FROM mycelium.workflow_history($1) WHERE event = $2',
    [wf, `released by ${workerId}: attempt 1 not counted`]);
  assert.equal(n, 4);
  const result = await serveUntil(new Worker({}, agentType, async (ctx) => ({ attempt: ctx.attempt }),
    { concurrency: 4, logger: memoryLogger() }), wf);
  assert.equal(result.status, 'completed');
  assert.deepEqual(new Set(Object.values(result.tasks).map((t) => t.result.attempt)), new Set([1]));
});

test('a lapsed lease: the result is not reported, and the log says why', async () => {
  const agentType = await newAgentType(sql);
  const logger = memoryLogger();
  const worker = new Worker({}, agentType, async () => {
    // blocks the event loop: no heartbeat gets out
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
    return { late: true };
  }, { concurrency: 1, workerId: `lapse-${agentType}`, lease: 0.5, logger });
  const wf = await client.runWorkflow([task('a', agentType, { maxAttempts: 1 })]);
  const result = await serveUntil(worker, wf);
  assert.match(logger.text(), new RegExp(`task a of workflow ${wf} \\(attempt 1\\): its lease lapsed; its result is not reported`));
  assert.equal(worker.stats.lost, 1);
  assert.equal(worker.stats.completed, 0);
  assert.equal(worker.stats.refused, 0);
  assert.equal(result.status, 'failed');
  assert.match(JSON.stringify(result.tasks.a.error), /lease/);
});

test('a lost lease aborts the handler; its result is not reported', async () => {
  const agentType = await newAgentType(sql);
  const logger = memoryLogger();
  let started = false;
  let reason = null;
  const worker = new Worker({}, agentType, (ctx) => new Promise((resolve) => {
    started = true;
    ctx.signal.addEventListener('abort', () => { reason = ctx.leaseLost; resolve({ finished: 'anyway' }); });
  }), { concurrency: 1, workerId: `lost-${agentType}`, lease: 0.6, logger });
  const wf = await client.runWorkflow([task('a', agentType)]);
  const run = worker.run();
  await waitFor(async () => started, 'the handler to start');
  await client.cancelWorkflow(wf, 'no longer needed');
  await waitFor(async () => worker.stats.lost === 1, 'the lease to be lost');
  worker.stop();
  await run;
  assert.match(reason, /does not hold task/);
  assert.match(reason, /The task is cancelled/);
  assert.equal(worker.stats.refused, 0);
  assert.match(logger.text(), /its result is not reported/);
});

test('a failed attempt is retried with its error', async () => {
  const agentType = await newAgentType(sql);
  const wf = await client.runWorkflow([task('a', agentType, { initialDelay: 0 })]);
  const result = await serveUntil(new Worker({}, agentType, async (ctx) => {
    ctx.progress({ step: 1 });
    if (ctx.attempt === 1) throw new TypeError('first attempt fails');
    return { attempt: ctx.attempt, deps: ctx.results() };
  }, { lease: 5, logger: memoryLogger() }), wf);
  assert.equal(result.status, 'completed');
  assert.deepEqual(result.tasks.a.result, { attempt: 2, deps: {} });
  const rows = await sql("SELECT error FROM mycelium.workflow_history($1) WHERE task_id = 'a' AND error IS NOT NULL", [wf]);
  assert.ok(rows.some((r) => JSON.stringify(r.error).includes('TypeError: first attempt fails')));
});

test('examples/agent.mjs serves a workflow and stops on SIGTERM', async () => {
  const agentType = await newAgentType(sql);
  const child = spawn(process.execPath, [path.join(here, '..', '..', '..', 'examples', 'agent.mjs'), agentType, '4'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  child.stdout.resume();
  const wf = await client.runWorkflow([
    task('a', agentType, { input: { text: 'agents outside the database', sleep: 0.2 } }),
    task('b', agentType, { dependencies: ['a'], input: { fail_attempts: 1 }, initialDelay: 0 }),
  ]);
  const result = await client.waitWorkflow(wf, 60);
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, err);
  assert.equal(result.status, 'completed', err);
  assert.equal(result.tasks.a.result.summary, 'agents outside the database');
  assert.equal(result.tasks.b.attempt, 2);
  assert.equal(result.tasks.b.result.inputs.a.words, 4);
  assert.match(err, /stopped: claimed 3, completed 2, failed 1/);
});

test('a result that is not JSON is a failed attempt', async () => {
  const agentType = await newAgentType(sql);
  const wf = await client.runWorkflow([task('a', agentType, { maxAttempts: 1 })]);
  const result = await serveUntil(new Worker({}, agentType, async () => ({ n: 10n }),
    { logger: memoryLogger() }), wf);
  assert.equal(result.status, 'failed');
  assert.match(JSON.stringify(result.tasks.a.error), /the handler's result is not JSON/);
});
