"""A database connection that comes back after it was lost.

The worker's connections must outlive a terminated backend, a restarted
server or a network hiccup: each statement runs on the current connection,
and when the connection is found broken it is dropped and the statement
raises ``Disconnected``; the next statement connects again, waiting with
exponential backoff between failed attempts.
"""

import asyncio
import logging

import psycopg

from .errors import translate


class Disconnected(Exception):
    """The connection was lost (or could not be made) while a statement
    ran: whether the statement took effect is unknown."""


class Connection:
    """One autocommit connection, made on first use and again after it was
    lost.  Statements are serialized: one at a time."""

    def __init__(self, dsn, *, name, logger, min_delay=0.05, max_delay=2.0,
                 connect_kwargs=None):
        self.dsn = dsn
        self.name = name
        self.log = logger or logging.getLogger("mycelium_agent")
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.connect_kwargs = dict(connect_kwargs or {})
        self.conn = None
        self.lock = asyncio.Lock()
        self.failures = 0
        self.connects = 0
        self.on_connect = None      # async callback(conn) after each connect

    async def connect(self):
        """Connects (once the backoff after the last failure has passed);
        raises Disconnected if it fails."""
        if self.conn is not None and not self.conn.closed:
            return self.conn
        if self.failures:
            delay = min(self.max_delay, self.min_delay * 2 ** (self.failures - 1))
            await asyncio.sleep(delay)
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, **self.connect_kwargs)
            if self.on_connect is not None:
                await self.on_connect(conn)
        except psycopg.OperationalError as e:
            self.failures += 1
            self.log.warning("%s connection: cannot connect (%s); trying again",
                             self.name, _first_line(e))
            raise Disconnected(str(e)) from e
        if self.failures or self.connects:
            self.log.info("%s connection: connected again", self.name)
        self.failures = 0
        self.connects += 1
        self.conn = conn
        return conn

    async def execute(self, query, params=None):
        """Runs a statement; returns its rows (or [] when it returns none).
        Mycelium's errors are raised as the typed exceptions of errors.py;
        a lost connection as Disconnected."""
        async with self.lock:
            conn = await self.connect()
            try:
                cur = await conn.execute(query, params)
                return await cur.fetchall() if cur.description else []
            except psycopg.Error as e:
                if conn.broken or conn.closed or _connection_lost(e):
                    self.failures += 1
                    self.log.warning("%s connection lost: %s", self.name, _first_line(e))
                    await self._drop()
                    raise Disconnected(str(e)) from e
                raise translate(e) from e

    async def _drop(self):
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # already broken: nothing to close
                pass

    async def close(self):
        async with self.lock:
            await self._drop()


def _connection_lost(error):
    """Whether an error means the connection is gone (admin shutdown,
    a crash of the server, a broken socket)."""
    sqlstate = error.sqlstate or ""
    return sqlstate.startswith("08") or sqlstate in ("57P01", "57P02", "57P03")


def _first_line(error):
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
