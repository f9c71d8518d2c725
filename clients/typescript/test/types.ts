// Type-checked by `npm run typecheck` (tsc): the declarations of
// src/index.d.ts describe the API as the tests and examples use it.
import {
  Client, Context, DependencyError, MyceliumError, StateError, Worker, task,
  type WorkflowResult,
} from '../src/index.js';

async function handle(ctx: Context): Promise<{ summary: string; attempt: number }> {
  ctx.progress({ percent: 50 });
  ctx.check();
  if (ctx.signal.aborted) throw new Error('stopping');
  const text = typeof ctx.input === 'string' ? ctx.input : JSON.stringify(ctx.input);
  return { summary: text.slice(0, 60), attempt: ctx.attempt };
}

export async function example(): Promise<WorkflowResult> {
  const worker = new Worker({ host: '/tmp', database: 'app' }, 'summarizer', handle,
    { concurrency: 50, lease: 30, grace: 10 });
  const running = worker.run();
  const client = await Client.connect('postgresql:///app');
  try {
    const id: string = await client.runWorkflow([task('a', 'summarizer', { input: 'text' })],
      { maxParallelTasks: 100 });
    return await client.waitWorkflow(id, 60);
  } catch (e) {
    if (e instanceof DependencyError || e instanceof StateError) console.error(e.sqlstate, e.detail);
    if (e instanceof MyceliumError) console.error(e.hint);
    throw e;
  } finally {
    worker.stop();
    await running;
    await client.close();
    const n: number = worker.stats.completed;
    void n;
  }
}
