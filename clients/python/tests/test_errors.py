"""The typed exceptions: each MY00x error is raised as its class."""

import uuid

import psycopg
import pytest

from conftest import run
from mycelium_agent import (Client, DependencyError, ExecutionError,
                            HandoffValidationError, MyceliumError,
                            OrchestrationError, StateError, task, translate)
from mycelium_agent._conn import Connection


def raised(coro_fn, dsn):
    async def main():
        async with await Client.connect(dsn) as client:
            try:
                await coro_fn(client)
            except Exception as e:  # noqa: BLE001
                return e
        return None
    return run(main())


def test_orchestration_error(dsn):
    e = raised(lambda c: c.create_workflow([task("a", "no-such-type")]), dsn)
    assert isinstance(e, OrchestrationError) and isinstance(e, MyceliumError)
    assert e.sqlstate == "MY000"
    assert 'agent type "no-such-type" is not registered' in e.message
    assert e.hint and "register_executor" in e.hint
    assert isinstance(e.__cause__, psycopg.Error)


def test_dependency_error(dsn, agent_type):
    e = raised(lambda c: c.create_workflow([task("a", agent_type, dependencies=["b"]),
                                            task("b", agent_type, dependencies=["a"])]), dsn)
    assert isinstance(e, DependencyError) and e.sqlstate == "MY001"
    assert "cycle" in str(e)


def test_execution_error(dsn, agent_type):
    async def wait_short(client):
        wf = await client.run_workflow([task("a", agent_type)])
        try:
            await client.wait_workflow(wf, timeout=0.2)
        finally:
            await client.cancel_workflow(wf)
    e = raised(wait_short, dsn)
    assert isinstance(e, ExecutionError) and e.sqlstate == "MY002"
    assert "timed out waiting" in e.message


def test_state_error(dsn, agent_type):
    e = raised(lambda c: c.start_workflow(str(uuid.uuid4())), dsn)
    assert isinstance(e, StateError) and e.sqlstate == "MY003"

    async def not_held():
        conn = Connection(dsn, name="test", logger=None)
        try:
            await conn.execute("SELECT mycelium.complete_task(gen_random_uuid(), 'a', 'w', NULL)")
        except Exception as err:  # noqa: BLE001
            return err
        finally:
            await conn.close()
    e = run(not_held())
    assert isinstance(e, StateError)
    assert "does not exist" in e.message


def test_handoff_validation_error(dsn, agent_type):
    async def send_bad(client):
        wf = await client.create_workflow([task("a", agent_type)])
        await client.send_handoff(wf, {"protocol_version": "1.0"})
    e = raised(send_bad, dsn)
    assert isinstance(e, HandoffValidationError) and e.sqlstate == "MY004"
    assert e.detail


def test_other_errors_are_left_as_they_are(dsn):
    e = raised(lambda c: c.create_workflow([task("a", "x")], max_parallel_tasks=0), dsn)
    assert isinstance(e, psycopg.Error) and not isinstance(e, MyceliumError)
    assert translate(ValueError("x")).args == ("x",)
