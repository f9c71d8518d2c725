#!/usr/bin/python3
"""bench/llm_agent.py: the LLM-shaped case of bench/agents.sh.

TASKS external tasks (in WORKFLOWS running workflows) whose handler awaits
SLEEP seconds, as an LLM call would, served by one Python SDK process
(clients/python) with CONCURRENCY handlers at once.  The worker is
connected and idle before the workflows start; the clock runs from their
start (one commit) until every task is completed.  The ideal is
CONCURRENCY / SLEEP tasks/s.  Prints one line per run and the median.
"""

import argparse
import asyncio
import logging
import statistics
import sys
import time

import psycopg

from mycelium_agent import Worker


async def one_run(args, sql):
    async def handle(ctx):
        await asyncio.sleep(args.sleep)
        return {"task": ctx.task_id}

    worker = Worker(args.dsn, "bench_llm", handle, concurrency=args.concurrency,
                    worker_id="bench-llm", lease=60, poll_interval=1)
    runner = asyncio.create_task(worker.run())
    per = args.tasks // args.workflows
    ids = [r[0] for r in sql.execute(
        "SELECT mycelium.create_workflow((SELECT jsonb_agg(mycelium.task('t' || i, 'a', 'bench_llm')) "
        "  FROM generate_series(1, %s) i), max_parallel_tasks => %s) FROM generate_series(1, %s)",
        (per, per, args.workflows)).fetchall()]
    await asyncio.sleep(0.5)        # the worker connected and idle
    t0 = time.monotonic()
    with sql.transaction():
        for wf in ids:
            sql.execute("SELECT mycelium.start_workflow(%s)", (wf,))
    while True:
        left = sql.execute("SELECT count(*) FROM mycelium.workflows WHERE workflow_id = ANY(%s) "
                           "AND status <> 'completed'", (ids,)).fetchone()[0]
        if left == 0:
            break
        await asyncio.sleep(0.01)
    elapsed = time.monotonic() - t0
    worker.stop()
    await runner
    return per * args.workflows / elapsed, elapsed, worker.stats


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dsn", required=True)
    p.add_argument("--tasks", type=int, default=2000)
    p.add_argument("--workflows", type=int, default=20)
    p.add_argument("--concurrency", type=int, default=200)
    p.add_argument("--sleep", type=float, default=0.5)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    sql = psycopg.connect(args.dsn, autocommit=True)
    sql.execute("SELECT mycelium.register_executor('bench_llm', NULL)")
    rates = []
    for i in range(args.runs):
        rate, elapsed, stats = asyncio.run(one_run(args, sql))
        rates.append(rate)
        print(f"run {i + 1}: {rate:.0f} tasks/s ({args.tasks} tasks in {elapsed:.2f} s; "
              f"claimed {stats['claimed']}, completed {stats['completed']})", flush=True)
    print(f"median: {statistics.median(rates):.0f} tasks/s "
          f"(ideal {args.concurrency / args.sleep:.0f})")


if __name__ == "__main__":
    main()
