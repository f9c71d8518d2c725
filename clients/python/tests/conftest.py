"""Fixtures of the SDK's tests: a real PostgreSQL server with mycelium.

MYCELIUM_TEST_DSN names a database of a running server with the extension
preloaded and created (test/run-tests starts one).  Without it, a
throwaway cluster is made with the pg_config first on PATH (initdb,
pg_ctl; the extension must be installed there), for the session.
"""

import asyncio
import os
import shutil
import subprocess
import tempfile
import uuid

import psycopg
import pytest


def _start_cluster():
    bindir = subprocess.check_output(["pg_config", "--bindir"], text=True).strip()
    base = tempfile.mkdtemp(prefix="mycelium-sdk-")
    data = os.path.join(base, "data")
    subprocess.run([os.path.join(bindir, "initdb"), "-D", data, "-A", "trust", "-U", "postgres"],
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(data, "postgresql.conf"), "a") as f:
        f.write("shared_preload_libraries = 'mycelium'\nmycelium.database = 'sdk'\n"
                "listen_addresses = ''\nport = 54893\n"
                f"unix_socket_directories = '{base}'\nmax_worker_processes = 16\n")
    subprocess.run([os.path.join(bindir, "pg_ctl"), "-D", data, "-l",
                    os.path.join(base, "server.log"), "-w", "start"],
                   check=True, stdout=subprocess.DEVNULL)
    dsn = f"host={base} port=54893 user=postgres"
    with psycopg.connect(dsn + " dbname=postgres", autocommit=True) as c:
        c.execute("CREATE DATABASE sdk")
    with psycopg.connect(dsn + " dbname=sdk", autocommit=True) as c:
        c.execute("CREATE EXTENSION mycelium")

    def stop():
        subprocess.run([os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"],
                       check=False, stdout=subprocess.DEVNULL)
        shutil.rmtree(base, ignore_errors=True)
    return dsn + " dbname=sdk", stop


@pytest.fixture(scope="session")
def dsn():
    given = os.environ.get("MYCELIUM_TEST_DSN")
    if given:
        yield given
        return
    made, stop = _start_cluster()
    try:
        yield made
    finally:
        stop()


@pytest.fixture
def sql(dsn):
    """Runs a statement on a fresh autocommit connection; returns its rows."""
    conn = psycopg.connect(dsn, autocommit=True)

    def run(query, params=None):
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []
    yield run
    conn.close()


@pytest.fixture
def agent_type(sql):
    """A new external agent type, so tests do not see each other's tasks."""
    name = "sdk-" + uuid.uuid4().hex[:8]
    sql("SELECT mycelium.register_executor(%s, NULL)", (name,))
    return name


def run(coro):
    """Runs a coroutine to its end (the tests are plain functions)."""
    return asyncio.run(coro)
