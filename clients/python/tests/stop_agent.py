"""A worker for test_worker.py's graceful stop: its handler sleeps SLEEP
seconds; on SIGTERM it stops, giving running handlers GRACE seconds.

usage: stop_agent.py DSN AGENT_TYPE WORKER_ID SLEEP GRACE
"""

import asyncio
import logging
import sys

from mycelium_agent import Worker

dsn, agent_type, worker_id, sleep, grace = sys.argv[1:6]


async def handle(ctx):
    await asyncio.sleep(float(sleep))
    return {"slept": float(sleep), "task": ctx.task_id}


logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                    format=f"[{worker_id}] %(message)s")
sys.exit(Worker(dsn, agent_type, handle, concurrency=4, worker_id=worker_id,
                grace=float(grace), lease=10, poll_interval=0.5).run_forever())
