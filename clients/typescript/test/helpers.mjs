// Shared by the tests: a connection to the test server (PGHOST, PGPORT,
// PGDATABASE and PGUSER name a database with mycelium preloaded and
// created; test/run-tests starts one), and a fresh agent type per test.

import { randomUUID } from 'node:crypto';
import pg from 'pg';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A connection for the test's own statements; sql(text, values) -> rows. */
export async function connect() {
  const client = new pg.Client();
  await client.connect();
  const sql = async (text, values) => (await client.query(text, values)).rows;
  sql.close = () => client.end();
  return sql;
}

/** A new external agent type, so tests do not see each other's tasks. */
export async function newAgentType(sql) {
  const name = `ts-${randomUUID().slice(0, 8)}`;
  await sql('SELECT mycelium.register_executor($1, NULL)', [name]);
  return name;
}

/** Waits until predicate() (async) is true. */
export async function waitFor(predicate, what = 'condition', timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A logger that keeps its lines, for assertions. */
export function memoryLogger() {
  const lines = [];
  const keep = (m) => lines.push(m);
  return { lines, text: () => lines.join('\n'), debug: keep, info: keep, warn: keep, error: keep };
}
