// client.js: a small client for creating, starting and waiting for workflows.
//
// Each method is one call of mycelium's SQL API (doc/api.md); mycelium's
// errors reject as the typed errors of errors.js.

import pg from 'pg';
import { translate } from './errors.js';

/** A task definition for createWorkflow, as mycelium.task() builds it. */
export function task(taskId, agentType, {
  agentId, dependencies = [], maxAttempts = 3, initialDelay = 1.0, maxDelay = 60.0,
  exponentialBase = 2.0, timeout = null, allowFailure = false, input = null, metadata = {},
} = {}) {
  return {
    task_id: taskId,
    agent_id: agentId ?? agentType,
    agent_type: agentType,
    dependencies: [...dependencies],
    retry_policy: { max_attempts: maxAttempts, initial_delay: initialDelay,
      max_delay: maxDelay, exponential_base: exponentialBase },
    timeout,
    allow_failure: allowFailure,
    input,
    metadata,
  };
}

export class Client {
  constructor(client) { this.client = client; }

  /** Connects with a pg.Client config object or connection string. */
  static async connect(connection) {
    const client = new pg.Client(connection);
    await client.connect();
    return new Client(client);
  }

  async close() { await this.client.end(); }

  async #one(text, values) {
    try {
      const { rows } = await this.client.query({ text, values, rowMode: 'array' });
      return rows.length ? rows[0][0] : null;
    } catch (e) {
      throw translate(e);
    }
  }

  /** Registers agentType for external agents, with an optional output JSON Schema. */
  async registerAgentType(agentType, outputSchema = null) {
    await this.#one('SELECT mycelium.register_executor($1, NULL, $2::jsonb)',
      [agentType, outputSchema == null ? null : JSON.stringify(outputSchema)]);
  }

  /** Creates a pending workflow; resolves to its id. */
  async createWorkflow(tasks, { context = {}, variables = {}, maxParallelTasks = 10, name = null } = {}) {
    return this.#one('SELECT mycelium.create_workflow($1::jsonb, $2::jsonb, $3::jsonb, $4, $5)::text',
      [JSON.stringify(tasks), JSON.stringify(context), JSON.stringify(variables), maxParallelTasks, name]);
  }

  /** Starts a pending workflow in the background; resolves to its version. */
  async startWorkflow(workflowId) {
    return Number(await this.#one('SELECT mycelium.start_workflow($1)', [workflowId]));
  }

  /** createWorkflow and startWorkflow in one transaction; resolves to the id. */
  async runWorkflow(tasks, options) {
    await this.client.query('BEGIN');
    try {
      const id = await this.createWorkflow(tasks, options);
      await this.startWorkflow(id);
      await this.client.query('COMMIT');
      return id;
    } catch (e) {
      await this.client.query('ROLLBACK').catch(() => {});
      throw e;
    }
  }

  /** Waits until the workflow ends; resolves to {status, version, error, tasks}.
   *  Past timeout seconds: ExecutionError (MY002). */
  async waitWorkflow(workflowId, timeout = null) {
    return this.#one('SELECT mycelium.wait_workflow($1, CASE WHEN $2::float8 IS NOT NULL '
      + 'THEN make_interval(secs => $2::float8) END)', [workflowId, timeout]);
  }

  /** The workflow as stored. */
  async getWorkflow(workflowId) {
    return this.#one('SELECT mycelium.get_workflow($1)', [workflowId]);
  }

  /** Sends a handoff message; a malformed one: HandoffValidationError (MY004). */
  async sendHandoff(workflowId, message) {
    return this.#one('SELECT mycelium.send_handoff($1, $2::jsonb)::text', [workflowId, JSON.stringify(message)]);
  }

  /** Cancels the workflow; resolves to its new version. */
  async cancelWorkflow(workflowId, reason = null) {
    return Number(await this.#one('SELECT mycelium.cancel_workflow($1, $2)', [workflowId, reason]));
  }
}
