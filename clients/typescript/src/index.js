// mycelium-agent: external agents for mycelium on Node.js and pg.
//
//   import { Worker } from 'mycelium-agent';
//   const worker = new Worker('postgresql:///app', 'summarizer',
//     async (ctx) => ({ summary: String(ctx.input.text).slice(0, 60) }),
//     { concurrency: 50 });
//   await worker.runForever();
//
// See clients/typescript/README.md.

export { Client, task } from './client.js';
export { Disconnected } from './connection.js';
export {
  DependencyError, ExecutionError, HandoffValidationError, LeaseLost, MyceliumError,
  OrchestrationError, StateError, translate,
} from './errors.js';
export { Context, Worker, consoleLogger } from './worker.js';
