#!/usr/bin/python3
"""examples/agent.py: a reference external agent for mycelium.

An external agent is any program with a PostgreSQL connection.  This one
(Python 3 with Debian's python3-psycopg) shows the whole protocol:

  * it LISTENs on mycelium_ready and sleeps until its agent type has ready
    tasks (with a slow poll as a safety net), instead of polling hard;
  * it claims tasks in batches with mycelium.claim_tasks();
  * a heartbeat thread, on a connection of its own, keeps the leases of
    the claimed tasks alive with mycelium.heartbeat(), reporting the
    progress of the task in hand;
  * it reports each attempt with mycelium.complete_task() or
    mycelium.fail_task();
  * on SIGTERM or SIGINT it finishes the task in hand, gives back the
    claimed tasks it has not started (as failed attempts, retried per
    their policy), and exits 0.

The work itself is a stand-in for an LLM call or a service: it reads the
task's input and the results of its dependencies and returns a summary.
Input fields it understands: "text" (summarised), "sleep" (seconds to
work, heartbeating meanwhile) and "fail_attempts" (fail that many
attempts before succeeding).

Usage:
  agent.py --dsn "host=/tmp port=5432 dbname=app" --agent-type summarizer
           [--worker-id ID] [--batch 10] [--lease 30] [--idle-exit SECONDS]
"""

import argparse
import json
import os
import select
import signal
import socket
import sys
import threading
import time

import psycopg
from psycopg.types.json import Jsonb


def log(worker_id, message):
    """One line on stderr, prefixed with the worker id."""
    print(f"[{worker_id}] {message}", file=sys.stderr, flush=True)


def work(ctx, report):
    """The agent's job: summarise the input text and what the dependencies
    produced.  report(progress) may be called to record progress."""
    task_input = ctx["task"].get("input") or {}
    if not isinstance(task_input, dict):
        task_input = {"text": task_input}
    if ctx["attempt"] <= int(task_input.get("fail_attempts", 0)):
        raise RuntimeError(f"simulated failure of attempt {ctx['attempt']}")
    seconds = float(task_input.get("sleep", 0))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = deadline - time.monotonic()
        report({"percent": round(100 * (1 - left / seconds)) if seconds else 100})
        time.sleep(min(0.2, max(left, 0)))
    text = str(task_input.get("text", ""))
    return {
        "summary": text[:60],
        "words": len(text.split()),
        "agent": ctx["task"]["agent_id"],
        "attempt": ctx["attempt"],
        "inputs": {r["task_id"]: r["result"] for r in ctx["previous_results"]},
        "handoffs": len(ctx.get("handoffs") or []),
    }


class Heartbeat(threading.Thread):
    """Keeps the leases of the claimed tasks alive, every third of the
    lease, and records the progress of the one in hand.  Uses a connection
    of its own."""

    def __init__(self, dsn, worker_id, lease):
        super().__init__(daemon=True)
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.worker_id = worker_id
        self.period = max(lease / 3.0, 0.1)
        self.lock = threading.Lock()
        self.held = {}              # (workflow_id, task_id) -> progress or None
        self.stopping = threading.Event()

    def hold(self, tasks):
        """The tasks of a new batch, (workflow_id, task_id) pairs."""
        with self.lock:
            self.held = {t: None for t in tasks}

    def release(self, task):
        with self.lock:
            self.held.pop(task, None)

    def report(self, task, progress):
        with self.lock:
            if task in self.held:
                self.held[task] = progress

    def run(self):
        while not self.stopping.wait(self.period):
            with self.lock:
                held = list(self.held.items())
            for (workflow_id, task_id), progress in held:
                try:
                    self.conn.execute(
                        "SELECT mycelium.heartbeat(%s, %s, %s, %s)",
                        (workflow_id, task_id, self.worker_id,
                         Jsonb(progress) if progress is not None else None))
                except psycopg.Error as e:
                    # lapsed or cancelled: the task is not ours any more,
                    # and its completion will be refused
                    log(self.worker_id, f"heartbeat for {task_id} refused: {e.diag.message_primary}")
                    self.release((workflow_id, task_id))

    def stop(self):
        self.stopping.set()
        self.join()
        self.conn.close()


class Agent:
    def __init__(self, args):
        self.args = args
        self.worker_id = args.worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.stop = False
        self.conn = psycopg.connect(args.dsn, autocommit=True)
        self.wakeups = 0
        self.unregistered = False
        self.conn.add_notify_handler(self.on_notify)
        self.heartbeat = Heartbeat(args.dsn, self.worker_id, args.lease)

    def on_notify(self, notify):
        if notify.payload == self.args.agent_type:
            self.wakeups += 1

    def request_stop(self, signum, frame):
        log(self.worker_id, f"signal {signum}: stopping after the task in hand")
        self.stop = True

    def claim(self):
        try:
            cur = self.conn.execute(
                "SELECT workflow_id, task_id, ctx FROM mycelium.claim_tasks(%s, %s, %s, %s)",
                (self.args.agent_type, self.worker_id, self.args.batch,
                 f"{self.args.lease} seconds"))
        except psycopg.errors.UndefinedObject as e:
            # not registered (yet): wait for it rather than give up
            if not self.unregistered:
                log(self.worker_id, f"{e.diag.message_primary}; waiting")
            self.unregistered = True
            return []
        self.unregistered = False
        return cur.fetchall()

    def wait_for_work(self, timeout):
        """Sleeps until a notification for our agent type, a signal, or the
        timeout.  Notifications are read by running a trivial query."""
        seen = self.wakeups
        deadline = time.monotonic() + timeout
        while not self.stop and self.wakeups == seen:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                ready, _, _ = select.select([self.conn.fileno()], [], [], min(left, 0.5))
            except InterruptedError:
                continue
            if ready:
                self.conn.execute("SELECT 1")
        return self.wakeups != seen

    def run_one(self, workflow_id, task_id, ctx):
        task = (workflow_id, task_id)
        try:
            result = work(ctx, lambda progress: self.heartbeat.report(task, progress))
        except Exception as e:  # the attempt failed: report it
            self.heartbeat.release(task)
            status = self.report("fail_task", workflow_id, task_id, str(e))
            log(self.worker_id, f"{task_id} attempt {ctx['attempt']} failed ({e}); now {status}")
            return
        self.heartbeat.release(task)
        status = self.report("complete_task", workflow_id, task_id, Jsonb(result))
        log(self.worker_id, f"{task_id} attempt {ctx['attempt']}: {status}")

    def report(self, function, workflow_id, task_id, value):
        """complete_task or fail_task; a refusal (lease lapsed, task
        cancelled) is logged, not fatal: the task is not ours any more."""
        try:
            cur = self.conn.execute(
                f"SELECT mycelium.{function}(%s, %s, %s, %s)",
                (workflow_id, task_id, self.worker_id, value))
            return cur.fetchone()[0]
        except psycopg.Error as e:
            return f"refused ({e.diag.message_primary}: {e.diag.message_detail})"

    def main(self):
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        self.conn.execute("LISTEN mycelium_ready")
        self.heartbeat.start()
        log(self.worker_id, f"serving agent type {self.args.agent_type!r}")
        idle_since = time.monotonic()
        while not self.stop:
            batch = self.claim()
            if not batch:
                if (self.args.idle_exit and
                        time.monotonic() - idle_since > self.args.idle_exit):
                    log(self.worker_id, "idle: exiting")
                    break
                self.wait_for_work(self.args.poll)
                continue
            idle_since = time.monotonic()
            self.heartbeat.hold([(str(w), t) for w, t, _ in batch])
            for i, (workflow_id, task_id, ctx) in enumerate(batch):
                if self.stop:
                    # give back what was claimed but not started
                    for w, t, _ in batch[i:]:
                        self.heartbeat.release((str(w), t))
                        self.report("fail_task", w, t,
                                    f"agent {self.worker_id} stopped before starting it")
                    break
                self.run_one(str(workflow_id), task_id, ctx)
        self.heartbeat.stop()
        self.conn.close()
        log(self.worker_id, "stopped")
        return 0


def parse_args(argv):
    p = argparse.ArgumentParser(description="A reference external agent for mycelium.")
    p.add_argument("--dsn", required=True, help="libpq connection string")
    p.add_argument("--agent-type", required=True)
    p.add_argument("--worker-id", help="default: host:pid")
    p.add_argument("--batch", type=int, default=10, help="tasks claimed at once")
    p.add_argument("--lease", type=float, default=30.0, help="lease in seconds")
    p.add_argument("--poll", type=float, default=5.0,
                   help="longest sleep without a notification, seconds")
    p.add_argument("--idle-exit", type=float, default=0,
                   help="exit after this many idle seconds (0: never)")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(Agent(parse_args(sys.argv[1:])).main())
