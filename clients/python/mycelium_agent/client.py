"""A small client for creating, starting and waiting for workflows.

    async with await Client.connect("dbname=app") as client:
        wf = await client.create_workflow([
            task("draft", "writer", input={"topic": "tides"}),
            task("review", "reviewer", dependencies=["draft"]),
        ], name="article")
        await client.start_workflow(wf)
        result = await client.wait_workflow(wf, timeout=300)

Each method is one call of mycelium's SQL API (doc/api.md); mycelium's
errors are raised as the typed exceptions of errors.py.
"""

import psycopg
from psycopg.types.json import Jsonb

from .errors import translate


def task(task_id, agent_type, *, agent_id=None, dependencies=(), max_attempts=3,
         initial_delay=1.0, max_delay=60.0, exponential_base=2.0, timeout=None,
         allow_failure=False, input=None, metadata=None):
    """A task definition for create_workflow, as mycelium.task() builds it
    (agent_id defaults to the agent type)."""
    return {
        "task_id": task_id,
        "agent_id": agent_id or agent_type,
        "agent_type": agent_type,
        "dependencies": list(dependencies),
        "retry_policy": {"max_attempts": max_attempts, "initial_delay": initial_delay,
                         "max_delay": max_delay, "exponential_base": exponential_base},
        "timeout": timeout,
        "allow_failure": allow_failure,
        "input": input,
        "metadata": metadata or {},
    }


class Client:
    """Creates, starts and waits for workflows over one connection."""

    def __init__(self, conn):
        self.conn = conn

    @classmethod
    async def connect(cls, dsn, **kwargs):
        """Connects (autocommit: each call is its own transaction)."""
        kwargs.setdefault("autocommit", True)
        return cls(await psycopg.AsyncConnection.connect(dsn, **kwargs))

    async def close(self):
        await self.conn.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def _one(self, query, params):
        try:
            cur = await self.conn.execute(query, params)
            row = await cur.fetchone()
        except psycopg.Error as e:
            raise translate(e) from e
        return row[0] if row else None

    async def register_agent_type(self, agent_type, output_schema=None):
        """Registers agent_type for external agents (a NULL executor), with
        an optional JSON Schema its results must match."""
        await self._one("SELECT mycelium.register_executor(%s, NULL, %s::jsonb)",
                        (agent_type, Jsonb(output_schema) if output_schema is not None else None))

    async def create_workflow(self, tasks, *, context=None, variables=None,
                              max_parallel_tasks=10, name=None):
        """Creates a pending workflow; returns its id (a string)."""
        wf = await self._one(
            "SELECT mycelium.create_workflow(%s, %s, %s, %s, %s)",
            (Jsonb(list(tasks)), Jsonb(context or {}), Jsonb(variables or {}),
             max_parallel_tasks, name))
        return str(wf)

    async def start_workflow(self, workflow_id):
        """Starts a pending workflow in the background; returns its version."""
        return await self._one("SELECT mycelium.start_workflow(%s)", (workflow_id,))

    async def run_workflow(self, tasks, **kwargs):
        """create_workflow and start_workflow in one transaction; returns the id."""
        async with self.conn.transaction():
            wf = await self.create_workflow(tasks, **kwargs)
            await self.start_workflow(wf)
        return wf

    async def wait_workflow(self, workflow_id, timeout=None):
        """Waits until the workflow ends and returns its result:
        {status, version, error, tasks: {task_id: {status, attempt, result,
        error}}}.  Past timeout seconds: ExecutionError (MY002)."""
        return await self._one(
            "SELECT mycelium.wait_workflow(%s, CASE WHEN %s::float8 IS NOT NULL "
            "  THEN make_interval(secs => %s::float8) END)",
            (workflow_id, timeout, timeout))

    async def get_workflow(self, workflow_id):
        """The workflow as stored: its definition, status and tasks."""
        return await self._one("SELECT mycelium.get_workflow(%s)", (workflow_id,))

    async def send_handoff(self, workflow_id, message):
        """Sends a handoff message (mycelium.create_handoff builds one) to
        the workflow's tasks; a malformed one: HandoffValidationError."""
        return str(await self._one("SELECT mycelium.send_handoff(%s, %s)",
                                   (workflow_id, Jsonb(message))))

    async def cancel_workflow(self, workflow_id, reason=None):
        """Cancels the workflow; returns its new version."""
        return await self._one("SELECT mycelium.cancel_workflow(%s, %s)", (workflow_id, reason))
