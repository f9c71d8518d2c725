#!/usr/bin/python3
"""examples/agent.py: an external agent for mycelium, on the Python SDK.

The SDK (clients/python, package mycelium_agent) does the protocol: it
claims tasks as handler slots free up, wakes on NOTIFY, heartbeats,
reports results in batches, reconnects, and on SIGTERM or SIGINT lets
running tasks finish (or gives them back without spending an attempt).
What is left here is the work: a stand-in for an LLM call that summarises
the task's input and its dependencies' results.  Input fields it
understands: "text" (summarised), "sleep" (seconds to work, reporting
progress) and "fail_attempts" (fail that many attempts first).

Usage:
  agent.py --dsn "host=/tmp port=5432 dbname=app" --agent-type summarizer
           [--worker-id ID] [--batch 10] [--lease 30] [--poll 5]
"""

import argparse
import asyncio
import logging
import os
import sys

# the SDK from this checkout, unless it is installed
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
from mycelium_agent import Worker  # noqa: E402


async def summarize(ctx):
    """The agent's job: what an LLM call would do, in a few lines."""
    task_input = ctx.input or {}
    if not isinstance(task_input, dict):
        task_input = {"text": task_input}
    if ctx.attempt <= int(task_input.get("fail_attempts", 0)):
        raise RuntimeError(f"simulated failure of attempt {ctx.attempt}")
    seconds = float(task_input.get("sleep", 0))
    for step in range(10 if seconds else 0):
        ctx.progress({"percent": step * 10})
        await asyncio.sleep(seconds / 10)
    text = str(task_input.get("text", ""))
    return {
        "summary": text[:60],
        "words": len(text.split()),
        "agent": ctx.agent_id,
        "attempt": ctx.attempt,
        "inputs": ctx.results(),
        "handoffs": len(ctx.handoffs),
    }


def main(argv):
    p = argparse.ArgumentParser(description="An external agent for mycelium.")
    p.add_argument("--dsn", required=True, help="libpq connection string")
    p.add_argument("--agent-type", required=True)
    p.add_argument("--worker-id", help="default: host:pid")
    p.add_argument("--batch", type=int, default=10, help="tasks worked on at once")
    p.add_argument("--lease", type=float, default=30.0, help="lease in seconds")
    p.add_argument("--poll", type=float, default=5.0,
                   help="longest sleep without a notification, seconds")
    p.add_argument("--grace", type=float, default=30.0,
                   help="on SIGTERM, seconds running tasks get to finish before they are given back")
    args = p.parse_args(argv)
    worker = Worker(args.dsn, args.agent_type, summarize, concurrency=args.batch,
                    worker_id=args.worker_id, lease=args.lease, poll_interval=args.poll,
                    grace=args.grace)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format=f"[{worker.worker_id}] %(message)s")
    return worker.run_forever()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
