// The typed errors: each MY00x error rejects as its class.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import {
  Client, DependencyError, ExecutionError, HandoffValidationError, MyceliumError,
  OrchestrationError, StateError, task, translate,
} from '../src/index.js';
import { Connection } from '../src/connection.js';
import { connect, memoryLogger, newAgentType } from './helpers.mjs';

let sql;
let client;
before(async () => { sql = await connect(); client = await Client.connect({}); });
after(async () => { await sql.close(); await client.close(); });

test('MY000: OrchestrationError', async () => {
  await assert.rejects(client.createWorkflow([task('a', 'no-such-type')]), (e) => {
    assert.ok(e instanceof OrchestrationError && e instanceof MyceliumError);
    assert.equal(e.sqlstate, 'MY000');
    assert.match(e.message, /agent type "no-such-type" is not registered/);
    assert.match(e.hint, /register_executor/);
    assert.equal(e.cause.code, 'MY000');
    return true;
  });
});

test('MY001: DependencyError', async () => {
  const agentType = await newAgentType(sql);
  await assert.rejects(client.createWorkflow([
    task('a', agentType, { dependencies: ['b'] }), task('b', agentType, { dependencies: ['a'] })]),
  (e) => e instanceof DependencyError && e.sqlstate === 'MY001' && /cycle/.test(e.message));
});

test('MY002: ExecutionError', async () => {
  const agentType = await newAgentType(sql);
  const wf = await client.runWorkflow([task('a', agentType)]);
  await assert.rejects(client.waitWorkflow(wf, 0.2),
    (e) => e instanceof ExecutionError && e.sqlstate === 'MY002' && /timed out waiting/.test(e.message));
  await client.cancelWorkflow(wf);
});

test('MY003: StateError', async () => {
  await assert.rejects(client.startWorkflow(randomUUID()), (e) => e instanceof StateError && e.sqlstate === 'MY003');
  const conn = new Connection({}, { name: 'test', logger: memoryLogger() });
  await assert.rejects(conn.query("SELECT mycelium.complete_task(gen_random_uuid(), 'a', 'w', NULL)"),
    (e) => e instanceof StateError && /does not exist/.test(e.message));
  await conn.close();
});

test('MY004: HandoffValidationError', async () => {
  const agentType = await newAgentType(sql);
  const wf = await client.createWorkflow([task('a', agentType)]);
  await assert.rejects(client.sendHandoff(wf, { protocol_version: '1.0' }),
    (e) => e instanceof HandoffValidationError && e.sqlstate === 'MY004' && Boolean(e.detail));
});

test('other errors are left as they are', async () => {
  await assert.rejects(client.createWorkflow([task('a', 'x')], { maxParallelTasks: 0 }),
    (e) => !(e instanceof MyceliumError) && e.code === '22023');
  const plain = new Error('x');
  assert.equal(translate(plain), plain);
});
