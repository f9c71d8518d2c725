// A worker for worker.test.mjs's graceful stop: its handler sleeps SLEEP
// seconds (or until its signal is aborted); on SIGTERM it stops, giving
// running handlers GRACE seconds.
//
// usage: node stop-agent.mjs AGENT_TYPE WORKER_ID SLEEP GRACE
import { Worker, consoleLogger } from '../src/index.js';

const [agentType, workerId, sleep, grace] = process.argv.slice(2);
const handle = (ctx) => new Promise((resolve) => {
  const timer = setTimeout(() => resolve({ slept: Number(sleep), task: ctx.taskId }), Number(sleep) * 1000);
  ctx.signal.addEventListener('abort', () => { clearTimeout(timer); resolve({ aborted: true }); });
});
await new Worker({}, agentType, handle, {
  concurrency: 4, workerId, grace: Number(grace), lease: 10, pollInterval: 0.5,
  logger: consoleLogger(`[${workerId}] `),
}).runForever();
