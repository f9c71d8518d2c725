"""The Worker against a real server: concurrency, lost connections,
graceful stop, lost leases, failures and retries."""

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from conftest import run
import mycelium_agent
from mycelium_agent import Client, Worker, task

HERE = os.path.dirname(os.path.abspath(__file__))
SDK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(mycelium_agent.__file__)))


def wait_for(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def await_for(predicate, timeout=60.0, what="condition"):
    """wait_for, letting the event loop run meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def history(sql, wf, task_id):
    return sql("SELECT h.status::text, h.attempt, h.event FROM mycelium.workflow_history(%s) h "
               "WHERE h.task_id = %s ORDER BY h.version", (wf, task_id))


async def serve_until(worker, client, wf, timeout=60):
    """Runs the worker until the workflow ends; returns its result."""
    runner = asyncio.create_task(worker.run())
    try:
        return await client.wait_workflow(wf, timeout=timeout)
    finally:
        worker.stop()
        await runner


def test_concurrency_runs_n_handlers_at_once(dsn, sql, agent_type):
    n = 5
    state = {"active": 0, "peak": 0, "held": 0}

    async def main():
        mon = await psycopg.AsyncConnection.connect(dsn, autocommit=True)

        async def handle(ctx):
            state["active"] += 1
            state["peak"] = max(state["peak"], state["active"])
            cur = await mon.execute(
                "SELECT count(*) FROM mycelium.task_states WHERE worker_id = %s AND status = 'running'",
                (ctx.worker_id,))
            state["held"] = max(state["held"], (await cur.fetchone())[0])
            await asyncio.sleep(0.4)
            state["active"] -= 1
            return {"task": ctx.task_id}

        async with await Client.connect(dsn) as client:
            wf = await client.run_workflow([task(f"t{i}", agent_type) for i in range(4 * n)],
                                           max_parallel_tasks=100)
            worker = Worker(dsn, agent_type, handle, concurrency=n, worker_id="conc-" + agent_type)
            result = await serve_until(worker, client, wf)
        await mon.close()
        return result, worker

    result, worker = run(main())
    assert result["status"] == "completed"
    assert {t["result"]["task"] for t in result["tasks"].values()} == {f"t{i}" for i in range(4 * n)}
    # n handlers ran at once, never more
    assert state["peak"] == n
    # the worker held no more tasks than it could run, plus those whose
    # result was on its way (a handler's slot frees before its report)
    assert n <= state["held"] <= 2 * n
    assert worker.stats["completed"] == 4 * n and worker.stats["claimed"] == 4 * n


def test_terminated_backend_result_recorded_once(dsn, sql, agent_type, caplog):
    caplog.set_level(logging.INFO, logger="mycelium_agent")

    async def main():
        started, go = asyncio.Event(), asyncio.Event()

        async def handle(ctx):
            started.set()
            await go.wait()
            return {"done": ctx.task_id}

        worker = Worker(dsn, agent_type, handle, concurrency=2, worker_id="term-" + agent_type,
                        lease=30, heartbeat_interval=0.2)
        async with await Client.connect(dsn) as client:
            wf = await client.run_workflow([task("a", agent_type, max_attempts=1)])
            runner = asyncio.create_task(worker.run())
            await asyncio.wait_for(started.wait(), 30)
            await await_for(lambda: sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                                        ("mycelium-agent " + worker.worker_id,))[0][0] == 3,
                     what="the worker's three connections")
            # every connection of the worker: work, heartbeat, listen
            killed = sql("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                         "FROM pg_stat_activity WHERE application_name = %s",
                         ("mycelium-agent " + worker.worker_id,))[0][0]
            await await_for(lambda: sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                                        ("mycelium-agent " + worker.worker_id,))[0][0] == 0,
                     what="the backends to exit")
            go.set()
            result = await client.wait_workflow(wf, timeout=60)
            worker.stop()
            await runner
        return wf, killed, result, worker

    wf, killed, result, worker = run(main())
    assert killed == 3
    assert result["status"] == "completed"
    assert result["tasks"]["a"]["result"] == {"done": "a"}
    assert result["tasks"]["a"]["attempt"] == 1
    rows = history(sql, wf, "a")
    assert [r[0] for r in rows].count("completed") == 1
    assert [r[0] for r in rows].count("running") == 1
    assert worker.stats["completed"] == 1
    assert "connection lost" in caplog.text


def _stop_agent(dsn, agent_type, worker_id, sleep, grace):
    return subprocess.Popen(
        [sys.executable, os.path.join(HERE, "stop_agent.py"), dsn, agent_type, worker_id,
         str(sleep), str(grace)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # the same copy of the SDK as the tests (installed, or the source tree)
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(
            [SDK_DIR] + os.environ.get("PYTHONPATH", "").split(os.pathsep))))


def _running(sql, worker_id):
    return sql("SELECT count(*) FROM mycelium.task_states WHERE worker_id = %s AND status = 'running'",
               (worker_id,))[0][0]


def _new_workflow(sql, agent_type, n):
    wf = sql("SELECT mycelium.create_workflow((SELECT jsonb_agg(mycelium.task('t' || i, 'a', %s, "
             "max_attempts => 1)) FROM generate_series(1, %s) i))", (agent_type, n))[0][0]
    sql("SELECT mycelium.start_workflow(%s)", (wf,))
    return str(wf)


def test_sigterm_finishes_running_tasks(dsn, sql, agent_type):
    wf = _new_workflow(sql, agent_type, 4)
    worker_id = "stop-finish-" + agent_type
    proc = _stop_agent(dsn, agent_type, worker_id, sleep=1.5, grace=60)
    wait_for(lambda: _running(sql, worker_id) == 4, what="4 tasks claimed")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped" in err
    status = sql("SELECT status::text FROM mycelium.workflows WHERE workflow_id = %s", (wf,))[0][0]
    assert status == "completed", err
    assert sql("SELECT array_agg(DISTINCT attempt) FROM mycelium.tasks WHERE workflow_id = %s",
               (wf,))[0][0] == [1]


def test_sigterm_with_max_attempts_1_releases_and_does_not_fail(dsn, sql, agent_type):
    wf = _new_workflow(sql, agent_type, 4)
    worker_id = "stop-release-" + agent_type
    proc = _stop_agent(dsn, agent_type, worker_id, sleep=600, grace=0.2)
    wait_for(lambda: _running(sql, worker_id) == 4, what="4 tasks claimed")
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert time.monotonic() - t0 < 30
    # given back: ready, the attempt not counted; the workflow goes on
    assert sql("SELECT status::text FROM mycelium.workflows WHERE workflow_id = %s", (wf,))[0][0] == "running"
    assert sql("SELECT string_agg(status::text || attempt, ',') FROM mycelium.tasks "
               "WHERE workflow_id = %s", (wf,))[0][0] == "ready0,ready0,ready0,ready0"
    assert sql("SELECT count(*) FROM mycelium.workflow_history(%s) WHERE event LIKE %s",
               (wf, f"released by {worker_id}: attempt 1 not counted"))[0][0] == 4

    # another worker does them, at their first attempt
    async def main():
        async def handle(ctx):
            return {"attempt": ctx.attempt}
        async with await Client.connect(dsn) as client:
            return await serve_until(Worker(dsn, agent_type, handle, concurrency=4), client, wf)
    result = run(main())
    assert result["status"] == "completed"
    assert {t["result"]["attempt"] for t in result["tasks"].values()} == {1}


def test_lapsed_lease_result_not_reported(dsn, sql, agent_type, caplog):
    caplog.set_level(logging.INFO, logger="mycelium_agent")

    async def main():
        async def handle(ctx):
            time.sleep(2.0)     # blocks the event loop: no heartbeat gets out
            return {"late": True}

        worker = Worker(dsn, agent_type, handle, concurrency=1, worker_id="lapse-" + agent_type,
                        lease=0.5)
        async with await Client.connect(dsn) as client:
            wf = await client.run_workflow([task("a", agent_type, max_attempts=1)])
            return wf, await serve_until(worker, client, wf), worker

    wf, result, worker = run(main())
    assert "task a of workflow %s (attempt 1): its lease lapsed; its result is not reported" % wf \
        in caplog.text
    assert worker.stats["lost"] == 1
    assert worker.stats["completed"] == 0 and worker.stats["refused"] == 0
    assert result["status"] == "failed"
    assert "lease" in str(result["tasks"]["a"]["error"])
    assert not any(r[0] == "completed" for r in history(sql, wf, "a"))


def test_lost_lease_cancels_handler_and_result_not_reported(dsn, sql, agent_type, caplog):
    caplog.set_level(logging.INFO, logger="mycelium_agent")
    seen = {}

    async def main():
        started = asyncio.Event()

        async def handle(ctx):
            started.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                seen["cancelled"] = ctx.lease_lost
            return {"finished": "anyway"}   # a handler that ignores its cancellation

        worker = Worker(dsn, agent_type, handle, concurrency=1, worker_id="lost-" + agent_type,
                        lease=0.6)
        async with await Client.connect(dsn) as client:
            wf = await client.run_workflow([task("a", agent_type)])
            runner = asyncio.create_task(worker.run())
            await asyncio.wait_for(started.wait(), 30)
            await client.cancel_workflow(wf, "no longer needed")
            for _ in range(200):
                if worker.stats["lost"]:
                    break
                await asyncio.sleep(0.05)
            worker.stop()
            await runner
        return wf, worker

    wf, worker = run(main())
    assert "does not hold task" in seen["cancelled"]
    assert "The task is cancelled" in seen["cancelled"]
    assert worker.stats["lost"] == 1 and worker.stats["refused"] == 0
    assert "its result is not reported" in caplog.text
    assert sql("SELECT status::text FROM mycelium.tasks WHERE workflow_id = %s", (wf,))[0][0] == "cancelled"


def test_failed_attempt_is_retried_with_its_error(dsn, sql, agent_type):
    async def main():
        async def handle(ctx):
            ctx.progress({"step": 1})
            if ctx.attempt == 1:
                raise RuntimeError("first attempt fails")
            return {"attempt": ctx.attempt, "deps": ctx.results()}

        async with await Client.connect(dsn) as client:
            wf = await client.run_workflow([task("a", agent_type, initial_delay=0)])
            return wf, await serve_until(Worker(dsn, agent_type, handle, lease=5), client, wf)

    wf, result = run(main())
    assert result["status"] == "completed"
    assert result["tasks"]["a"]["result"] == {"attempt": 2, "deps": {}}
    errors = sql("SELECT error FROM mycelium.workflow_history(%s) WHERE task_id = 'a' "
                 "AND error IS NOT NULL", (wf,))
    assert any("RuntimeError: first attempt fails" in (e[0] if isinstance(e[0], str) else str(e[0]))
               for e in errors)


def test_stop_releases_handlers_that_raise_or_ignore_their_cancellation(dsn, sql, agent_type):
    async def main():
        started = []

        async def handle(ctx):
            started.append(ctx.task_id)
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                if ctx.task_id == "raises":
                    raise RuntimeError("interrupted")
                await asyncio.sleep(2)      # ignores it for a while, then returns
                return {"late": True}

        worker = Worker(dsn, agent_type, handle, concurrency=2, worker_id="cancel-" + agent_type,
                        grace=0.2)
        async with await Client.connect(dsn) as client:
            wf = await client.run_workflow([task("raises", agent_type, max_attempts=1),
                                            task("ignores", agent_type, max_attempts=1)])
            runner = asyncio.create_task(worker.run())
            await await_for(lambda: len(started) == 2, what="both handlers to start")
            worker.stop()
            await runner
            await asyncio.sleep(2.5)        # the ignoring handler has returned by now
        return wf, worker

    wf, worker = run(main())
    assert worker.stats["released"] == 2
    assert worker.stats["failed"] == 0 and worker.stats["completed"] == 0
    assert sql("SELECT string_agg(task_id || ':' || status || attempt, ',' ORDER BY task_id) "
               "FROM mycelium.tasks WHERE workflow_id = %s", (wf,))[0][0] == "ignores:ready0,raises:ready0"
    sql("SELECT mycelium.cancel_workflow(%s)", (wf,))


def test_a_result_that_is_not_json_is_a_failed_attempt(dsn, sql, agent_type):
    async def main():
        async def handle(ctx):
            return {"when": object()}

        async with await Client.connect(dsn) as client:
            wf = await client.run_workflow([task("a", agent_type, max_attempts=1)])
            return await serve_until(Worker(dsn, agent_type, handle), client, wf)

    result = run(main())
    assert result["status"] == "failed"
    assert "the handler's result is not JSON" in str(result["tasks"]["a"]["error"])
