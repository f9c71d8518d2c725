"""The worker: serves the tasks of one external agent type.

A ``Worker`` runs up to ``concurrency`` handlers at once, each an
``async def handle(ctx) -> dict`` called with a ``Context``.  It

  * claims tasks with ``mycelium.claim_tasks``, never more than it has
    free handler slots for, so it holds no task it cannot start at once;
  * wakes on ``NOTIFY mycelium_ready`` for its agent type (a connection
    of its own LISTENs), with a slow poll as a safety net, and claims
    again as soon as a slot frees while the last claim found work;
  * keeps each claimed task's lease alive with ``mycelium.heartbeat``
    every third of the lease, sending the progress the handler recorded;
  * reports results in batches (``complete_tasks``), failures with
    ``fail_task`` and tasks it gives back with ``release_tasks``;
  * survives a lost connection: it connects again with backoff, and a
    result finished meanwhile is still reported while its lease holds
    (and never twice: the server refuses a second report);
  * never reports a task whose lease it lost (the lease lapsed, or the
    task was cancelled): the handler is cancelled, and the log says why;
  * stops gracefully on ``stop()`` (or SIGTERM/SIGINT with
    ``run_forever``): no new claims; running handlers get ``grace``
    seconds to finish; the rest are given back with ``release_tasks``,
    which spends no attempt.

Three connections: claims and reports; heartbeats; LISTEN.
"""

import asyncio
import json
import logging
import os
import signal
import socket
import time

from psycopg.types.json import Jsonb

from ._conn import Connection, Disconnected
from .errors import LeaseLost, MyceliumError, StateError

log = logging.getLogger("mycelium_agent")

# most tasks one claim_tasks call may claim
MAX_CLAIM = 10000


class Context:
    """What a handler gets: the task's execution context (``raw``, the
    ``ctx`` a function executor gets) and ways to report progress."""

    def __init__(self, worker, workflow_id, task_id, attempt, ctx):
        self.worker_id = worker.worker_id
        self.workflow_id = workflow_id
        self.task_id = task_id
        self.attempt = attempt
        self.raw = ctx
        self.task = ctx.get("task") or {}
        self.input = self.task.get("input")
        self.agent_id = self.task.get("agent_id")
        self.previous_results = ctx.get("previous_results") or []
        self.handoffs = ctx.get("handoffs") or []
        self.workflow_context = ctx.get("workflow_context") or {}
        self.variables = ctx.get("variables") or {}
        self.logger = worker.log
        self._progress = None
        self._lost = None

    def progress(self, value):
        """Records progress (any JSON value), sent with the next heartbeat
        and shown in mycelium.tasks."""
        self._progress = value

    @property
    def lease_lost(self):
        """Why the worker no longer holds the task, or None."""
        return self._lost

    def check(self):
        """Raises LeaseLost if the worker no longer holds the task: a long
        handler may call it between steps."""
        if self._lost:
            raise LeaseLost(self._lost)

    def results(self):
        """The dependencies' results, by task id."""
        return {r["task_id"]: r.get("result") for r in self.previous_results}


class _Held:
    """A task the worker holds: its context, handler and lease."""

    __slots__ = ("key", "ctx", "deadline", "handler", "reporting")

    def __init__(self, key, ctx, deadline):
        self.key = key
        self.ctx = ctx
        self.deadline = deadline    # time.monotonic() when the lease lapses
        self.handler = None
        self.reporting = False


class Worker:
    """Serves the tasks of ``agent_type`` with ``handler``.

    dsn: a libpq connection string; agent_type: registered with a NULL
    executor; handler: ``async def handle(ctx: Context) -> dict`` (what it
    returns is the result; an exception it raises is a failed attempt).
    """

    def __init__(self, dsn, agent_type, handler, *, concurrency=10,
                 worker_id=None, lease=60.0, heartbeat_interval=None,
                 poll_interval=5.0, claim_delay=0.01, report_delay=0.005,
                 grace=30.0, max_report=500, logger=None, connect_kwargs=None,
                 reconnect_max_delay=2.0):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if lease <= 0:
            raise ValueError("lease must be positive")
        self.dsn = dsn
        self.agent_type = agent_type
        self.handler = handler
        self.concurrency = concurrency
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.lease = float(lease)
        self.heartbeat_interval = heartbeat_interval or max(self.lease / 3.0, 0.05)
        self.poll_interval = poll_interval
        self.claim_delay = claim_delay
        self.report_delay = report_delay
        self.grace = grace
        self.max_report = max_report
        self.log = logger or log
        kwargs = dict(connect_kwargs or {})
        kwargs.setdefault("application_name", f"mycelium-agent {self.worker_id}"[:63])

        def conn(name):
            return Connection(dsn, name=name, logger=self.log, connect_kwargs=kwargs,
                              max_delay=reconnect_max_delay)
        self._db = conn("work")
        self._hb = conn("heartbeat")
        self._listen = conn("listen")
        self._held = {}             # (workflow_id, task_id) -> _Held
        self._running = 0           # handlers not yet returned
        self._outbox = []           # (kind, _Held, value) to report
        self._cancelled = set()     # handlers cancelled by a stop
        self._claim_error = None    # the last claim's error, logged once
        self._kick = None           # claim loop: a slot freed or work announced
        self._notified = False
        self._report_kick = None
        self._stopping = None
        self._stopped = None
        self._stop_requested = False
        self.stats = {"claimed": 0, "completed": 0, "failed": 0, "released": 0,
                      "lost": 0, "refused": 0}

    # -- the public interface -------------------------------------------

    def stop(self):
        """Stops gracefully: no new claims, running handlers finish within
        ``grace`` seconds, the rest are released.  Safe from a signal
        handler of the worker's event loop."""
        self._stop_requested = True
        if self._stopping is not None and not self._stopping.is_set():
            self.log.info("stopping: no new claims; %d task(s) in hand", self._running)
            self._stopping.set()
            self._kick.set()

    async def run(self):
        """Serves tasks until stop(); returns once every held task was
        reported or released."""
        self._kick = asyncio.Event()
        self._report_kick = asyncio.Event()
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        if self._stop_requested:
            self._stopping.set()
        self._listen.on_connect = self._on_listen_connect
        self.log.info("serving agent type %r as %s, %d at once",
                      self.agent_type, self.worker_id, self.concurrency)
        # connect at once, so a wrong DSN shows in the log from the start
        for c in (self._db, self._hb):
            try:
                async with c.lock:
                    await c.connect()
            except Disconnected:
                pass
        listener = asyncio.create_task(self._listen_loop())
        heartbeats = asyncio.create_task(self._heartbeat_loop())
        reporter = asyncio.create_task(self._report_loop())
        try:
            await self._claim_loop()
            await self._drain()
        finally:
            self._stopped.set()
            self._report_kick.set()
            listener.cancel()
            heartbeats.cancel()
            await asyncio.gather(listener, heartbeats, return_exceptions=True)
            try:
                await asyncio.wait_for(reporter, timeout=max(self.lease, 1.0))
            except asyncio.TimeoutError:
                self.log.warning("reports still pending at exit: %d", len(self._outbox))
            for c in (self._db, self._hb, self._listen):
                await c.close()
            self.log.info("stopped: %s", ", ".join(f"{k} {v}" for k, v in self.stats.items()))

    def run_forever(self):
        """Runs the worker in a new event loop until SIGTERM or SIGINT,
        which stop it gracefully.  Returns 0."""
        async def main():
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._on_signal, sig)
            await self.run()
        asyncio.run(main())
        return 0

    def _on_signal(self, sig):
        self.log.info("signal %s: stopping gracefully", signal.Signals(sig).name)
        self.stop()

    # -- claims ---------------------------------------------------------

    async def _claim_loop(self):
        """Claims while there are free slots and work, then sleeps until a
        slot frees, work is announced, or the poll interval passes."""
        more = True
        while not self._stopping.is_set():
            self._kick.clear()
            free = self.concurrency - self._running
            if free > 0 and (more or self._notified):
                self._notified = False
                if self.claim_delay and free < self.concurrency:
                    # let a few more slots free up: fewer, larger claims
                    await asyncio.sleep(self.claim_delay)
                    free = self.concurrency - self._running
                claimed = await self._claim(free)
                if claimed is None:
                    continue        # connection lost: claim again at once
                more = claimed >= free
                continue
            try:
                await asyncio.wait_for(self._kick.wait(), self.poll_interval)
            except asyncio.TimeoutError:
                more = True         # the safety poll

    async def _claim(self, n):
        """Claims up to n tasks and starts their handlers; returns how many
        it claimed (None if the connection was lost)."""
        try:
            rows = await self._db.execute(
                "SELECT c.workflow_id::text, c.task_id, c.attempt, "
                "  EXTRACT(epoch FROM c.lease_until - clock_timestamp())::float8, c.ctx "
                "FROM mycelium.claim_tasks(%s, %s, %s, make_interval(secs => %s)) c",
                (self.agent_type, self.worker_id, min(n, MAX_CLAIM), self.lease))
        except Disconnected:
            return None
        except Exception as e:      # noqa: BLE001 -- a statement timeout, an unregistered type
            # said once while it lasts: an agent may start before its type is registered
            text = str(e) if isinstance(e, MyceliumError) else _message(e)
            if text != self._claim_error:
                self.log.warning("claim failed: %s; trying again every %g s", text, self.poll_interval)
                self._claim_error = text
            await self._pause()
            return 0
        self._claim_error = None
        now = time.monotonic()
        for workflow_id, task_id, attempt, left, ctx in rows:
            key = (workflow_id, task_id)
            held = _Held(key, Context(self, workflow_id, task_id, attempt, ctx), now + left)
            self._held[key] = held
            self._running += 1
            held.handler = asyncio.create_task(self._handle(held))
        self.stats["claimed"] += len(rows)
        if rows:
            self.log.debug("claimed %d task(s)", len(rows))
        return len(rows)

    async def _pause(self):
        """Waits a poll interval (or until stopped) after a failed claim."""
        try:
            await asyncio.wait_for(self._stopping.wait(), self.poll_interval)
        except asyncio.TimeoutError:
            pass

    # -- handlers -------------------------------------------------------

    async def _handle(self, held):
        """Runs the handler of one task and queues its report."""
        ctx = held.ctx
        outcome = None
        try:
            result = await self.handler(ctx)
            try:
                json.dumps(result)
                outcome = ("complete", result)
            except (TypeError, ValueError) as e:
                outcome = ("fail", f"the handler's result is not JSON: {e}")
        except asyncio.CancelledError:
            if ctx._lost is None:
                outcome = ("release", None)
        except LeaseLost:
            pass
        except Exception as e:      # noqa: BLE001 -- the attempt failed
            if held.handler in self._cancelled:
                outcome = ("release", None)     # cancelled by a stop: not a failure
            else:
                outcome = ("fail", f"{type(e).__name__}: {e}")
        finally:
            self._running -= 1
            self._kick.set()
        if held.reporting:
            return                  # given back already by a stop (_drain)
        if outcome is None or not self._still_held(held, outcome[0]):
            self._forget(held)
            return
        held.reporting = True
        self._outbox.append((outcome[0], held, outcome[1]))
        self._report_kick.set()

    def _still_held(self, held, what):
        """Whether the worker still holds the task; if not, says why its
        outcome is not reported."""
        ctx = held.ctx
        if ctx._lost is None and time.monotonic() >= held.deadline:
            ctx._lost = "its lease lapsed"
        if ctx._lost is None:
            return True
        self.stats["lost"] += 1
        self.log.warning("task %s of workflow %s (attempt %d): %s; its %s is not reported",
                         ctx.task_id, ctx.workflow_id, ctx.attempt, ctx._lost,
                         "result" if what == "complete" else "outcome")
        return False

    def _forget(self, held):
        self._held.pop(held.key, None)

    def _lose(self, held, reason):
        """The worker no longer holds the task: cancel its handler."""
        if held.ctx._lost is not None:
            return
        held.ctx._lost = reason
        if held.handler is not None and not held.handler.done():
            self.log.warning("task %s of workflow %s (attempt %d): %s; cancelling its handler",
                             held.ctx.task_id, held.ctx.workflow_id, held.ctx.attempt, reason)
            held.handler.cancel()

    # -- heartbeats -----------------------------------------------------

    async def _heartbeat_loop(self):
        """Renews the lease of every held task, every heartbeat_interval."""
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            for held in list(self._held.values()):
                if held.key not in self._held or held.ctx._lost is not None:
                    continue
                if time.monotonic() >= held.deadline:
                    self._lose(held, "its lease lapsed")
                    continue
                progress = held.ctx._progress
                try:
                    rows = await self._hb.execute(
                        "SELECT EXTRACT(epoch FROM mycelium.heartbeat(%s, %s, %s, %s) "
                        "  - clock_timestamp())::float8",
                        (held.key[0], held.key[1], self.worker_id,
                         Jsonb(progress) if progress is not None else None))
                except Disconnected:
                    break           # the next round connects again
                except StateError as e:
                    if held.key in self._held and not held.reporting:
                        self._lose(held, f"the lease was lost ({e})")
                    continue
                except Exception as e:  # noqa: BLE001 -- a statement timeout: try next round
                    self.log.warning("heartbeat of task %s failed: %s", held.key[1], _message(e))
                    continue
                held.deadline = time.monotonic() + rows[0][0]

    # -- listening ------------------------------------------------------

    async def _on_listen_connect(self, conn):
        await conn.execute("LISTEN mycelium_ready")
        # work may have been announced while not listening
        self._notified = True
        if self._kick is not None:
            self._kick.set()

    async def _listen_loop(self):
        """Wakes the claim loop on NOTIFY mycelium_ready for the agent type."""
        while True:
            try:
                async with self._listen.lock:
                    conn = await self._listen.connect()
                try:
                    async for n in conn.notifies():
                        if n.payload == self.agent_type:
                            self._notified = True
                            self._kick.set()
                except Exception as e:  # noqa: BLE001 -- the connection was lost
                    self.log.warning("listen connection lost: %s", _message(e))
                    self._listen.failures += 1
                    await self._listen.close()
            except Disconnected:
                pass

    # -- reports --------------------------------------------------------

    async def _report_loop(self):
        """Sends the queued reports, a batch at a time, until stopped with
        nothing left to send."""
        while True:
            if not self._outbox:
                if self._stopped.is_set():
                    return
                self._report_kick.clear()
                await self._report_kick.wait()
                if self.report_delay:
                    await asyncio.sleep(self.report_delay)
                continue
            batch, self._outbox = self._outbox[:self.max_report], self._outbox[self.max_report:]
            retry = await self._send(batch)
            if retry:
                # connection lost: send again once connected, while leases hold
                self._outbox[:0] = [r for r in retry if self._still_held(r[1], r[0]) or
                                    self._forget(r[1])]

    async def _send(self, batch):
        """Reports a batch; returns the reports to send again."""
        completes = [r for r in batch if r[0] == "complete"]
        releases = [r for r in batch if r[0] == "release"]
        fails = [r for r in batch if r[0] == "fail"]
        retry = []
        for kind, group in (("complete", completes), ("release", releases)):
            if not group:
                continue
            try:
                await self._send_batch(kind, group)
            except Disconnected:
                retry.extend(group)
            except StateError:
                # one of them is not ours any more: report them one by one
                for report in group:
                    if await self._send_one(report):
                        retry.append(report)
            except Exception as e:  # noqa: BLE001 -- a statement timeout: try again
                self.log.warning("%s of %d task(s) failed: %s; trying again",
                                 kind, len(group), _message(e))
                retry.extend(group)
        for report in fails:
            if await self._send_one(report):
                retry.append(report)
        return retry

    async def _send_batch(self, kind, group):
        wids = [r[1].key[0] for r in group]
        tids = [r[1].key[1] for r in group]
        if kind == "complete":
            await self._db.execute(
                "SELECT count(*) FROM mycelium.complete_tasks(%s, %s::uuid[], %s::text[], %s::jsonb[])",
                (self.worker_id, wids, tids, [Jsonb(r[2]) for r in group]))
        else:
            await self._db.execute(
                "SELECT count(*) FROM mycelium.release_tasks(%s, %s::uuid[], %s::text[])",
                (self.worker_id, wids, tids))
        for report in group:
            self._reported(report)

    async def _send_one(self, report):
        """Reports one task; returns True if it should be sent again."""
        kind, held, value = report
        wid, tid = held.key
        try:
            if kind == "complete":
                await self._db.execute("SELECT mycelium.complete_task(%s, %s, %s, %s)",
                                       (wid, tid, self.worker_id, Jsonb(value)))
            elif kind == "release":
                await self._db.execute("SELECT mycelium.release_task(%s, %s, %s)",
                                       (wid, tid, self.worker_id))
            else:
                await self._db.execute("SELECT mycelium.fail_task(%s, %s, %s, %s)",
                                       (wid, tid, self.worker_id, value))
        except Disconnected:
            return True
        except StateError as e:
            self.stats["refused"] += 1
            self.log.warning("%s of task %s of workflow %s refused: %s",
                             kind, tid, wid, e)
            self._forget(held)
            return False
        except Exception as e:  # noqa: BLE001 -- a statement timeout: try again
            self.log.warning("%s of task %s failed: %s; trying again", kind, tid, _message(e))
            return True
        self._reported(report)
        return False

    def _reported(self, report):
        kind, held, value = report
        self._forget(held)
        self.stats[{"complete": "completed", "release": "released", "fail": "failed"}[kind]] += 1
        ctx = held.ctx
        if kind == "fail":
            self.log.info("task %s attempt %d failed: %s", ctx.task_id, ctx.attempt, value)
        elif kind == "release":
            self.log.info("task %s released (attempt %d not counted)", ctx.task_id, ctx.attempt)
        else:
            self.log.debug("task %s attempt %d completed", ctx.task_id, ctx.attempt)

    # -- stopping -------------------------------------------------------

    async def _drain(self):
        """After stop(): lets running handlers finish within grace seconds,
        cancels the rest (their tasks are released), and waits until every
        held task was reported."""
        handlers = [h.handler for h in self._held.values()
                    if h.handler is not None and not h.handler.done()]
        if handlers:
            self.log.info("waiting up to %g s for %d running task(s)", self.grace, len(handlers))
            done, pending = await asyncio.wait(handlers, timeout=self.grace)
            if pending:
                self.log.info("releasing %d unfinished task(s)", len(pending))
                for t in pending:
                    self._cancelled.add(t)
                    t.cancel()
                done, pending = await asyncio.wait(pending, timeout=1.0)
                # a handler that ignores its cancellation: release its task anyway
                for held in list(self._held.values()):
                    if held.handler in pending and not held.reporting:
                        held.reporting = True
                        self._outbox.append(("release", held, None))
                self._report_kick.set()
        deadline = time.monotonic() + max(self.lease, 1.0)
        while self._held and time.monotonic() < deadline:
            self._report_kick.set()
            await asyncio.sleep(0.01)


def _message(error):
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    return primary or str(error) or type(error).__name__
