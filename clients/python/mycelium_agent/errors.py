"""Typed exceptions for mycelium's errors.

Mycelium raises its own errors with SQLSTATEs of class MY (see the SQL
reference, doc/api.md#errors).  The SDK turns a database error with one of
those SQLSTATEs into the matching exception below, so callers can catch
``StateError`` rather than compare SQLSTATE strings.  Other database
errors (a malformed argument, 22023; a missing privilege, 42501) are left
as psycopg raised them.
"""

import psycopg


class MyceliumError(Exception):
    """An error mycelium raised.  ``sqlstate``, ``message``, ``detail`` and
    ``hint`` are the server's; ``__cause__`` is the psycopg exception."""

    sqlstate = None

    def __init__(self, message, *, sqlstate=None, detail=None, hint=None):
        super().__init__(message)
        self.message = message
        if sqlstate is not None:
            self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint

    def __str__(self):
        text = self.message
        if self.detail:
            text += f" ({self.detail})"
        return text


class OrchestrationError(MyceliumError):
    """MY000: an orchestration error."""
    sqlstate = "MY000"


class DependencyError(MyceliumError):
    """MY001: a dependency error (duplicate task id, unknown dependency,
    a cycle)."""
    sqlstate = "MY001"


class ExecutionError(MyceliumError):
    """MY002: an execution error (a workflow failed, a wait timed out)."""
    sqlstate = "MY002"


class StateError(MyceliumError):
    """MY003: a state manager error (no such workflow or task, a transition
    not allowed, an agent reporting on an attempt it does not hold)."""
    sqlstate = "MY003"


class HandoffValidationError(MyceliumError):
    """MY004: a handoff message that breaks the handoff schema."""
    sqlstate = "MY004"


class LeaseLost(MyceliumError):
    """The worker no longer holds a task it claimed: its lease lapsed, or
    the task was cancelled or finished otherwise.  Raised inside a handler
    by ``Context.check()``; the SDK does not report such a task."""
    sqlstate = "MY003"


BY_SQLSTATE = {cls.sqlstate: cls for cls in (
    OrchestrationError, DependencyError, ExecutionError, StateError,
    HandoffValidationError)}


def translate(error):
    """The typed exception for a psycopg error with a MY SQLSTATE, chained
    to it; the error itself otherwise."""
    if not isinstance(error, psycopg.Error):
        return error
    sqlstate = error.sqlstate
    cls = BY_SQLSTATE.get(sqlstate)
    if cls is None:
        return error
    diag = error.diag
    typed = cls(diag.message_primary or str(error), sqlstate=sqlstate,
                detail=diag.message_detail, hint=diag.message_hint)
    typed.__cause__ = error
    return typed
