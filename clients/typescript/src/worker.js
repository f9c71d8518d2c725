// worker.js: serves the tasks of one external agent type.
//
// A Worker runs up to `concurrency` handlers at once, each an
// `async (ctx) => result` called with a Context.  It claims tasks with
// mycelium.claim_tasks, never more than it has free handler slots for; wakes
// on NOTIFY mycelium_ready for its agent type (a connection of its own
// LISTENs) with a slow poll as a safety net; heartbeats every third of the
// lease with the progress the handler recorded; reports results in batches
// (complete_tasks), failures with fail_task and tasks it gives back with
// release_tasks; connects again with backoff after a lost connection, and
// still reports a finished result while its lease holds; never reports a
// task whose lease it lost (the handler's signal is aborted, and the log
// says why); and stops gracefully on stop() (or SIGTERM/SIGINT with
// runForever): no new claims, running handlers get `grace` ms to finish,
// the rest are released, which spends no attempt.
//
// Three connections: claims and reports; heartbeats; LISTEN.

import os from 'node:os';
import { Connection, Disconnected } from './connection.js';
import { LeaseLost, StateError } from './errors.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether promise settles within ms; the timer does not outlive the call. */
async function within(promise, ms) {
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A settable event: wait() resolves once it is set (or after a timeout). */
class Flag {
  constructor() { this.isSet = false; this.waiters = []; }
  set() { this.isSet = true; for (const w of this.waiters.splice(0)) w(true); }
  clear() { this.isSet = false; }
  wait(ms) {
    if (this.isSet) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (v) => { clearTimeout(timer); resolve(v); };
      const timer = ms == null ? null : setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, ms);
      this.waiters.push(done);
    });
  }
}

/** The default logger: lines on stderr. */
export const consoleLogger = (prefix = '') => ({
  debug: () => {},
  info: (m) => console.error(`${prefix}${m}`),
  warn: (m) => console.error(`${prefix}${m}`),
  error: (m) => console.error(`${prefix}${m}`),
});

/** What a handler gets: the task's execution context and ways to report progress. */
export class Context {
  constructor(worker, workflowId, taskId, attempt, ctx) {
    this.workerId = worker.workerId;
    this.workflowId = workflowId;
    this.taskId = taskId;
    this.attempt = attempt;
    this.raw = ctx;
    this.task = ctx.task ?? {};
    this.input = this.task.input ?? null;
    this.agentId = this.task.agent_id ?? null;
    this.previousResults = ctx.previous_results ?? [];
    this.handoffs = ctx.handoffs ?? [];
    this.workflowContext = ctx.workflow_context ?? {};
    this.variables = ctx.variables ?? {};
    this.logger = worker.log;
    this.leaseLost = null;
    this.controller = new AbortController();
    /** Aborted when the worker no longer holds the task, or stops. */
    this.signal = this.controller.signal;
    this._progress = undefined;
  }

  /** Records progress (any JSON value), sent with the next heartbeat. */
  progress(value) { this._progress = value; }

  /** Throws LeaseLost if the worker no longer holds the task. */
  check() { if (this.leaseLost) throw new LeaseLost(this.leaseLost); }

  /** The dependencies' results, by task id. */
  results() {
    return Object.fromEntries(this.previousResults.map((r) => [r.task_id, r.result ?? null]));
  }
}

export class Worker {
  /**
   * @param connection a pg.Client config object or connection string
   * @param agentType an agent type registered with a NULL executor
   * @param handler `async (ctx) => result`; what it throws is a failed attempt
   */
  constructor(connection, agentType, handler, {
    concurrency = 10, workerId, lease = 60, heartbeatInterval, pollInterval = 5,
    claimDelay = 0.01, reportDelay = 0.005, grace = 30, maxReport = 500, logger,
    reconnectMaxDelay = 2,
  } = {}) {
    if (!(concurrency >= 1)) throw new RangeError('concurrency must be at least 1');
    if (!(lease > 0)) throw new RangeError('lease must be positive');
    this.agentType = agentType;
    this.handler = handler;
    this.concurrency = concurrency;
    this.workerId = workerId ?? `${os.hostname()}:${process.pid}`;
    this.lease = lease;
    this.heartbeatInterval = heartbeatInterval ?? Math.max(lease / 3, 0.05);
    this.pollInterval = pollInterval;
    this.claimDelay = claimDelay;
    this.reportDelay = reportDelay;
    this.grace = grace;
    this.maxReport = maxReport;
    this.log = logger ?? consoleLogger();
    const config = typeof connection === 'string' ? { connectionString: connection } : { ...(connection ?? {}) };
    config.application_name ??= `mycelium-agent ${this.workerId}`.slice(0, 63);
    const conn = (name, onConnect) => new Connection(config, {
      name, logger: this.log, maxDelay: reconnectMaxDelay * 1000, onConnect });
    this.db = conn('work');
    this.hb = conn('heartbeat');
    this.listen = conn('listen', (client) => this.#onListenConnect(client));
    this.held = new Map();       // "workflow_id/task_id" -> held task
    this.running = 0;
    this.outbox = [];
    this.kick = new Flag();
    this.reportKick = new Flag();
    this.stopping = new Flag();
    this.stopped = new Flag();
    this.notified = false;
    this.claimError = null;
    this.stats = { claimed: 0, completed: 0, failed: 0, released: 0, lost: 0, refused: 0 };
  }

  /** Stops gracefully: no new claims; running handlers finish within grace seconds. */
  stop() {
    if (this.stopping.isSet) return;
    this.log.info(`stopping: no new claims; ${this.running} task(s) in hand`);
    this.stopping.set();
    this.kick.set();
  }

  /** Serves tasks until stop(); resolves once every held task was reported or released. */
  async run() {
    this.log.info(`serving agent type '${this.agentType}' as ${this.workerId}, ${this.concurrency} at once`);
    for (const c of [this.db, this.hb, this.listen]) await c.connect().catch(() => {});
    const heartbeats = this.#heartbeatLoop();
    const reporter = this.#reportLoop();
    const listener = this.#listenLoop();
    try {
      await this.#claimLoop();
      await this.#drain();
    } finally {
      this.stopped.set();
      this.reportKick.set();
      if (!(await within(reporter, Math.max(this.lease, 1) * 1000))) {
        this.log.warn(`reports still pending at exit: ${this.outbox.length}`);
      }
      await Promise.all([this.db.close(), this.hb.close(), this.listen.close()]);
      await Promise.allSettled([heartbeats, listener]);
      this.log.info(`stopped: ${Object.entries(this.stats).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    }
  }

  /** Runs until SIGTERM or SIGINT, which stop it gracefully. */
  async runForever() {
    const onSignal = (sig) => { this.log.info(`signal ${sig}: stopping gracefully`); this.stop(); };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    try {
      await this.run();
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  }

  // -- claims ------------------------------------------------------------

  async #claimLoop() {
    let more = true;
    while (!this.stopping.isSet) {
      this.kick.clear();
      let free = this.concurrency - this.running;
      if (free > 0 && (more || this.notified)) {
        this.notified = false;
        if (this.claimDelay && free < this.concurrency) {
          await sleep(this.claimDelay * 1000);     // a few more slots: fewer, larger claims
          free = this.concurrency - this.running;
          if (free <= 0 || this.stopping.isSet) continue;
        }
        const claimed = await this.#claim(free);
        if (claimed !== null) more = claimed >= free;
        continue;
      }
      if (!(await this.kick.wait(this.pollInterval * 1000))) more = true;  // the safety poll
    }
  }

  async #claim(n) {
    let rows;
    try {
      rows = await this.db.query(
        'SELECT c.workflow_id::text AS workflow_id, c.task_id, c.attempt, '
        + ' EXTRACT(epoch FROM c.lease_until - clock_timestamp())::float8 AS lease_left, c.ctx '
        + 'FROM mycelium.claim_tasks($1, $2, $3, make_interval(secs => $4)) c',
        [this.agentType, this.workerId, Math.min(n, 10000), this.lease]);
    } catch (e) {
      if (e instanceof Disconnected) return null;
      // said once while it lasts: an agent may start before its type is registered
      if (e.message !== this.claimError) {
        this.log.warn(`claim failed: ${e.message}; trying again every ${this.pollInterval} s`);
        this.claimError = e.message;
      }
      await this.stopping.wait(this.pollInterval * 1000);
      return 0;
    }
    this.claimError = null;
    const now = performance.now();
    for (const r of rows) {
      const held = {
        key: `${r.workflow_id}/${r.task_id}`,
        workflowId: r.workflow_id,
        taskId: r.task_id,
        ctx: new Context(this, r.workflow_id, r.task_id, r.attempt, r.ctx),
        deadline: now + r.lease_left * 1000,
        reporting: false,
        done: null,
      };
      this.held.set(held.key, held);
      this.running += 1;
      held.done = this.#handle(held);
    }
    this.stats.claimed += rows.length;
    return rows.length;
  }

  // -- handlers ----------------------------------------------------------

  async #handle(held) {
    const { ctx } = held;
    let outcome = null;
    try {
      const result = await this.handler(ctx);
      // a handler that ends after its signal was aborted by a stop: release
      if (ctx.signal.aborted && !ctx.leaseLost) outcome = ['release'];
      else {
        try {
          JSON.stringify(result ?? null);
          outcome = ['complete', result];
        } catch (e) {
          outcome = ['fail', `the handler's result is not JSON: ${e.message}`];
        }
      }
    } catch (e) {
      if (ctx.leaseLost || e instanceof LeaseLost) outcome = null;
      else if (ctx.signal.aborted) outcome = ['release'];
      else outcome = ['fail', `${e && e.name ? e.name : 'Error'}: ${e && e.message !== undefined ? e.message : e}`];
    } finally {
      this.running -= 1;
      this.kick.set();
    }
    if (held.reporting) return;     // given back already by a stop (#drain)
    if (!outcome || !this.#stillHeld(held, outcome[0])) {
      this.held.delete(held.key);
      return;
    }
    held.reporting = true;
    this.outbox.push({ kind: outcome[0], held, value: outcome[1] });
    this.reportKick.set();
  }

  #stillHeld(held, what) {
    const { ctx } = held;
    if (!ctx.leaseLost && performance.now() >= held.deadline) ctx.leaseLost = 'its lease lapsed';
    if (!ctx.leaseLost) return true;
    this.stats.lost += 1;
    this.log.warn(`task ${ctx.taskId} of workflow ${ctx.workflowId} (attempt ${ctx.attempt}): `
      + `${ctx.leaseLost}; its ${what === 'complete' ? 'result' : 'outcome'} is not reported`);
    return false;
  }

  #lose(held, reason) {
    if (held.ctx.leaseLost) return;
    held.ctx.leaseLost = reason;
    this.log.warn(`task ${held.taskId} of workflow ${held.workflowId} (attempt ${held.ctx.attempt}): `
      + `${reason}; aborting its handler`);
    held.ctx.controller.abort(new LeaseLost(reason));
  }

  // -- heartbeats --------------------------------------------------------

  async #heartbeatLoop() {
    while (!this.stopped.isSet) {
      if (await this.stopped.wait(this.heartbeatInterval * 1000)) return;
      for (const held of [...this.held.values()]) {
        if (this.stopped.isSet) return;
        if (!this.held.has(held.key) || held.ctx.leaseLost) continue;
        if (performance.now() >= held.deadline) { this.#lose(held, 'its lease lapsed'); continue; }
        const progress = held.ctx._progress;
        let rows;
        try {
          rows = await this.hb.query(
            'SELECT EXTRACT(epoch FROM mycelium.heartbeat($1, $2, $3, $4::jsonb) - clock_timestamp())::float8 AS left',
            [held.workflowId, held.taskId, this.workerId,
              progress === undefined ? null : JSON.stringify(progress)]);
        } catch (e) {
          if (e instanceof Disconnected) break;   // the next round connects again
          if (e instanceof StateError) {
            if (this.held.has(held.key) && !held.reporting) this.#lose(held, `the lease was lost (${e.message}: ${e.detail})`);
          } else {
            this.log.warn(`heartbeat of task ${held.taskId} failed: ${e.message}`);
          }
          continue;
        }
        held.deadline = performance.now() + rows[0].left * 1000;
      }
    }
  }

  // -- listening ---------------------------------------------------------

  async #onListenConnect(client) {
    client.on('notification', (n) => {
      if (n.channel === 'mycelium_ready' && n.payload === this.agentType) {
        this.notified = true;
        this.kick.set();
      }
    });
    await client.query('LISTEN mycelium_ready');
    // work may have been announced while not listening
    this.notified = true;
    this.kick.set();
  }

  async #listenLoop() {
    // notifications arrive by events; this only reconnects a lost connection
    while (!this.stopped.isSet) {
      await this.listen.connect().catch(() => {});
      await this.stopped.wait(200);
    }
  }

  // -- reports -----------------------------------------------------------

  async #reportLoop() {
    for (;;) {
      if (this.outbox.length === 0) {
        if (this.stopped.isSet) return;
        this.reportKick.clear();
        await this.reportKick.wait();
        if (this.reportDelay) await sleep(this.reportDelay * 1000);
        continue;
      }
      const batch = this.outbox.splice(0, this.maxReport);
      const retry = await this.#send(batch);
      // connection lost: send again once connected, while leases hold
      const again = retry.filter((r) => this.#stillHeld(r.held, r.kind) || this.held.delete(r.held.key) && false);
      this.outbox.unshift(...again);
    }
  }

  async #send(batch) {
    const retry = [];
    for (const kind of ['complete', 'release']) {
      const group = batch.filter((r) => r.kind === kind);
      if (group.length === 0) continue;
      try {
        await this.#sendBatch(kind, group);
      } catch (e) {
        if (e instanceof Disconnected) retry.push(...group);
        else if (e instanceof StateError) {
          // one of them is not ours any more: report them one by one
          for (const r of group) if (await this.#sendOne(r)) retry.push(r);
        } else {
          this.log.warn(`${kind} of ${group.length} task(s) failed: ${e.message}; trying again`);
          retry.push(...group);
        }
      }
    }
    for (const r of batch.filter((x) => x.kind === 'fail')) if (await this.#sendOne(r)) retry.push(r);
    return retry;
  }

  async #sendBatch(kind, group) {
    const wids = group.map((r) => r.held.workflowId);
    const tids = group.map((r) => r.held.taskId);
    if (kind === 'complete') {
      await this.db.query(
        'SELECT count(*) FROM mycelium.complete_tasks($1, $2::uuid[], $3::text[], $4::jsonb[])',
        [this.workerId, wids, tids, group.map((r) => JSON.stringify(r.value ?? null))]);
    } else {
      await this.db.query('SELECT count(*) FROM mycelium.release_tasks($1, $2::uuid[], $3::text[])',
        [this.workerId, wids, tids]);
    }
    for (const r of group) this.#reported(r);
  }

  async #sendOne(r) {
    const { workflowId, taskId } = r.held;
    try {
      if (r.kind === 'complete') {
        await this.db.query('SELECT mycelium.complete_task($1, $2, $3, $4::jsonb)',
          [workflowId, taskId, this.workerId, JSON.stringify(r.value ?? null)]);
      } else if (r.kind === 'release') {
        await this.db.query('SELECT mycelium.release_task($1, $2, $3)', [workflowId, taskId, this.workerId]);
      } else {
        await this.db.query('SELECT mycelium.fail_task($1, $2, $3, $4)',
          [workflowId, taskId, this.workerId, r.value]);
      }
    } catch (e) {
      if (e instanceof Disconnected) return true;
      if (e instanceof StateError) {
        this.stats.refused += 1;
        this.log.warn(`${r.kind} of task ${taskId} of workflow ${workflowId} refused: ${e.message} (${e.detail})`);
        this.held.delete(r.held.key);
        return false;
      }
      this.log.warn(`${r.kind} of task ${taskId} failed: ${e.message}; trying again`);
      return true;
    }
    this.#reported(r);
    return false;
  }

  #reported(r) {
    this.held.delete(r.held.key);
    this.stats[{ complete: 'completed', release: 'released', fail: 'failed' }[r.kind]] += 1;
    const { ctx } = r.held;
    if (r.kind === 'fail') this.log.info(`task ${ctx.taskId} attempt ${ctx.attempt} failed: ${r.value}`);
    else if (r.kind === 'release') this.log.info(`task ${ctx.taskId} released (attempt ${ctx.attempt} not counted)`);
  }

  // -- stopping ----------------------------------------------------------

  async #drain() {
    const pending = [...this.held.values()].filter((h) => !h.reporting).map((h) => h.done);
    if (pending.length) {
      this.log.info(`waiting up to ${this.grace} s for ${pending.length} running task(s)`);
      if (!(await within(Promise.all(pending), this.grace * 1000))) {
        const left = [...this.held.values()].filter((h) => !h.reporting);
        this.log.info(`releasing ${left.length} unfinished task(s)`);
        for (const h of left) h.ctx.controller.abort(new Error('the worker is stopping'));
        // a handler that ignores its signal is given back without waiting for it
        for (const h of left) {
          if (!h.reporting && this.held.has(h.key)) {
            h.reporting = true;
            this.outbox.push({ kind: 'release', held: h, value: null });
          }
        }
        this.reportKick.set();
      }
    }
    const deadline = performance.now() + Math.max(this.lease, 1) * 1000;
    while (this.held.size && performance.now() < deadline) {
      this.reportKick.set();
      await sleep(10);
    }
  }
}
