"""mycelium_agent: external agents for mycelium, on asyncio and psycopg 3.

    import asyncio
    from mycelium_agent import Worker

    async def summarize(ctx):
        text = ctx.input["text"]
        return {"summary": text[:60]}

    Worker("dbname=app", "summarizer", summarize, concurrency=50).run_forever()

See clients/python/README.md.
"""

from .client import Client, task
from .errors import (DependencyError, ExecutionError, HandoffValidationError,
                     LeaseLost, MyceliumError, OrchestrationError, StateError,
                     translate)
from .worker import Context, Worker

__all__ = [
    "Client", "Context", "DependencyError", "ExecutionError",
    "HandoffValidationError", "LeaseLost", "MyceliumError",
    "OrchestrationError", "StateError", "Worker", "task", "translate",
]
__version__ = "0.2.0"
