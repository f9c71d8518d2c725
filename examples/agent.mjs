#!/usr/bin/env node
// @ts-check
// examples/agent.mjs: an external agent for mycelium, on the TypeScript SDK.
//
// The SDK (clients/typescript, package mycelium-agent; `npm ci` there
// first) does the protocol: claims as handler slots free up, NOTIFY,
// heartbeats, batched reports, reconnection, and a graceful stop on
// SIGTERM.  What is left here is the work, as in examples/agent.py.
//
//   PGHOST=/tmp PGDATABASE=app node examples/agent.mjs summarizer [concurrency]

import { Worker } from '../clients/typescript/src/index.js';

/** @param {import('../clients/typescript/src/index.js').Context} ctx */
async function summarize(ctx) {
  const input = /** @type {{text?: string, sleep?: number, fail_attempts?: number}} */ (
    typeof ctx.input === 'object' && ctx.input !== null ? ctx.input
      : ctx.input == null || ctx.input === '' ? {} : { text: String(ctx.input) });
  if (ctx.attempt <= (input.fail_attempts ?? 0)) throw new Error(`simulated failure of attempt ${ctx.attempt}`);
  for (let step = 0; step < 10 && input.sleep; step++) {
    ctx.progress({ percent: step * 10 });
    await new Promise((resolve) => setTimeout(resolve, (input.sleep ?? 0) * 100));
  }
  const text = String(input.text ?? '');
  return {
    summary: text.slice(0, 60),
    words: text.split(/\s+/).filter(Boolean).length,
    agent: ctx.agentId,
    attempt: ctx.attempt,
    inputs: ctx.results(),
    handoffs: ctx.handoffs.length,
  };
}

const [agentType = 'summarizer', concurrency = '10'] = process.argv.slice(2);
// connection settings come from PGHOST, PGPORT, PGDATABASE, PGUSER
await new Worker({}, agentType, summarize, { concurrency: Number(concurrency), lease: 30 }).runForever();
