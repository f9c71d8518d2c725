// Types of mycelium-agent (src/*.js).

import type { ClientConfig } from 'pg';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A pg.Client config object, or a connection string. */
export type Connection = ClientConfig | string;

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export declare function consoleLogger(prefix?: string): Logger;

export interface ErrorOptions {
  sqlstate?: string;
  detail?: string;
  hint?: string;
  cause?: unknown;
}

/** An error mycelium raised (SQLSTATE class MY). */
export declare class MyceliumError extends Error {
  constructor(message: string, options?: ErrorOptions);
  static sqlstate: string | undefined;
  sqlstate: string;
  detail?: string;
  hint?: string;
}
/** MY000 */
export declare class OrchestrationError extends MyceliumError {}
/** MY001 */
export declare class DependencyError extends MyceliumError {}
/** MY002 */
export declare class ExecutionError extends MyceliumError {}
/** MY003 */
export declare class StateError extends MyceliumError {}
/** MY004 */
export declare class HandoffValidationError extends MyceliumError {}
/** The worker no longer holds the task. */
export declare class LeaseLost extends MyceliumError {}
/** The connection was lost while a statement ran. */
export declare class Disconnected extends Error {}

/** The typed error for a pg error with a MY SQLSTATE; the error itself otherwise. */
export declare function translate(error: unknown): unknown;

export interface PreviousResult {
  task_id: string;
  agent_id: string;
  agent_type: string;
  status: string;
  result: Json;
  error: Json;
}

/** What a handler gets. */
export declare class Context {
  readonly workerId: string;
  readonly workflowId: string;
  readonly taskId: string;
  readonly attempt: number;
  /** The ctx a function executor gets. */
  readonly raw: { [key: string]: Json };
  readonly task: { [key: string]: Json };
  readonly input: Json;
  readonly agentId: string | null;
  readonly previousResults: PreviousResult[];
  readonly handoffs: Json[];
  readonly workflowContext: { [key: string]: Json };
  readonly variables: { [key: string]: Json };
  readonly logger: Logger;
  /** Why the worker no longer holds the task, or null. */
  readonly leaseLost: string | null;
  /** Aborted when the worker loses the task or stops. */
  readonly signal: AbortSignal;
  /** Records progress, sent with the next heartbeat. */
  progress(value: Json): void;
  /** Throws LeaseLost if the worker no longer holds the task. */
  check(): void;
  /** The dependencies' results, by task id. */
  results(): { [taskId: string]: Json };
}

export type Handler = (ctx: Context) => Promise<Json | undefined> | Json | undefined;

export interface WorkerOptions {
  /** Handlers run at once (default 10); claims never exceed free slots. */
  concurrency?: number;
  /** Default: host:pid. */
  workerId?: string;
  /** Lease of a claim, seconds (default 60). */
  lease?: number;
  /** Seconds between heartbeats (default: a third of the lease). */
  heartbeatInterval?: number;
  /** Longest sleep without a notification, seconds (default 5). */
  pollInterval?: number;
  /** Seconds to gather freed slots before claiming (default 0.01). */
  claimDelay?: number;
  /** Seconds to gather results before reporting (default 0.005). */
  reportDelay?: number;
  /** On stop, seconds running handlers get before their tasks are released (default 30). */
  grace?: number;
  /** Most results one complete_tasks call reports (default 500). */
  maxReport?: number;
  logger?: Logger;
  /** Longest wait between reconnection attempts, seconds (default 2). */
  reconnectMaxDelay?: number;
}

export interface WorkerStats {
  claimed: number;
  completed: number;
  failed: number;
  released: number;
  lost: number;
  refused: number;
}

export declare class Worker {
  constructor(connection: Connection, agentType: string, handler: Handler, options?: WorkerOptions);
  readonly workerId: string;
  readonly stats: WorkerStats;
  /** Serves tasks until stop(). */
  run(): Promise<void>;
  /** run(), stopping gracefully on SIGTERM or SIGINT. */
  runForever(): Promise<void>;
  /** Stops gracefully: no new claims; running handlers finish or are released. */
  stop(): void;
}

export interface TaskOptions {
  agentId?: string;
  dependencies?: string[];
  maxAttempts?: number;
  initialDelay?: number;
  maxDelay?: number;
  exponentialBase?: number;
  timeout?: number | null;
  allowFailure?: boolean;
  input?: Json;
  metadata?: { [key: string]: Json };
}

export interface TaskDefinition {
  task_id: string;
  agent_id: string;
  agent_type: string;
  dependencies: string[];
  retry_policy: { max_attempts: number; initial_delay: number; max_delay: number; exponential_base: number };
  timeout: number | null;
  allow_failure: boolean;
  input: Json;
  metadata: { [key: string]: Json };
}

export declare function task(taskId: string, agentType: string, options?: TaskOptions): TaskDefinition;

export interface WorkflowOptions {
  context?: { [key: string]: Json };
  variables?: { [key: string]: Json };
  maxParallelTasks?: number;
  name?: string | null;
}

export interface WorkflowResult {
  status: 'pending' | 'running' | 'paused' | 'cancelling' | 'failing' | 'completed' | 'failed' | 'cancelled';
  version: number;
  error: string | null;
  tasks: { [taskId: string]: { status: string; attempt: number; result: Json; error: Json } };
}

export declare class Client {
  static connect(connection: Connection): Promise<Client>;
  close(): Promise<void>;
  registerAgentType(agentType: string, outputSchema?: Json): Promise<void>;
  createWorkflow(tasks: TaskDefinition[], options?: WorkflowOptions): Promise<string>;
  startWorkflow(workflowId: string): Promise<number>;
  runWorkflow(tasks: TaskDefinition[], options?: WorkflowOptions): Promise<string>;
  waitWorkflow(workflowId: string, timeout?: number | null): Promise<WorkflowResult>;
  getWorkflow(workflowId: string): Promise<Json>;
  sendHandoff(workflowId: string, message: Json): Promise<string>;
  cancelWorkflow(workflowId: string, reason?: string | null): Promise<number>;
}
