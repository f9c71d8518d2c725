// errors.js: typed exceptions for mycelium's errors.
//
// Mycelium raises its own errors with SQLSTATEs of class MY (doc/api.md,
// "Errors").  translate() turns a pg error with one of those SQLSTATEs into
// the matching class below, so callers can catch StateError rather than
// compare codes; other errors are returned as they are.

/** An error mycelium raised; `cause` is the pg error. */
export class MyceliumError extends Error {
  constructor(message, { sqlstate, detail, hint, cause } = {}) {
    super(message, cause ? { cause } : undefined);
    this.name = this.constructor.name;
    this.sqlstate = sqlstate ?? this.constructor.sqlstate;
    this.detail = detail;
    this.hint = hint;
  }
}

/** MY000: an orchestration error. */
export class OrchestrationError extends MyceliumError {}
OrchestrationError.sqlstate = 'MY000';

/** MY001: a dependency error (duplicate task id, unknown dependency, cycle). */
export class DependencyError extends MyceliumError {}
DependencyError.sqlstate = 'MY001';

/** MY002: an execution error (a workflow failed, a wait timed out). */
export class ExecutionError extends MyceliumError {}
ExecutionError.sqlstate = 'MY002';

/** MY003: a state manager error (no such workflow or task, an attempt not held). */
export class StateError extends MyceliumError {}
StateError.sqlstate = 'MY003';

/** MY004: a handoff message that breaks the handoff schema. */
export class HandoffValidationError extends MyceliumError {}
HandoffValidationError.sqlstate = 'MY004';

/** The worker no longer holds a task (lease lapsed, task cancelled). */
export class LeaseLost extends MyceliumError {}
LeaseLost.sqlstate = 'MY003';

const BY_SQLSTATE = new Map([OrchestrationError, DependencyError, ExecutionError,
  StateError, HandoffValidationError].map((c) => [c.sqlstate, c]));

/** The typed error for a pg error with a MY SQLSTATE; the error itself otherwise. */
export function translate(error) {
  const cls = error && BY_SQLSTATE.get(error.code);
  if (!cls) return error;
  return new cls(error.message, { sqlstate: error.code, detail: error.detail,
    hint: error.hint, cause: error });
}
