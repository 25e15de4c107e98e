"""PostgreSQL connection pools that fail fast while the server is away and heal when it returns.

psycopg_pool, as configured by default, makes a request wait up to 30 s for a connection
while the server is down, hands out connections the server closed while they sat idle (the
first requests after a restart then fail on them), and backs off reconnecting for minutes.
Every pool in syncledger (eventsourcing's, the views', the tokens', the tiles') is this one:

- a request waits at most POOL_TIMEOUT_S for a connection, and not at all once a connection
  attempt has failed: waiting requests are told at once (`DatabaseUnavailable`, 503);
- a connection is checked as it leaves the pool, cheaply: only one whose socket has
  something to read while idle (the server's goodbye, or EOF) is pinged; a dead one is
  dropped with every other dead one and another is taken, so a restart costs no request;
- reconnection is tried 0.1 s after a failure, then at growing intervals, and gives up
  after RECONNECT_TIMEOUT_S (the next request starts a new attempt), so the pool notices a
  returning server within a few tenths of a second.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable
from time import monotonic
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout
from psycopg_pool.base import AttemptWithBackoff

from domain.infra.database import Database
from domain.infra.locks import WouldBlock, waiting_allowed
from domain.infra.outage import DatabaseUnavailable, first_line

POOL_TIMEOUT_S = 1.5
DOWN_TIMEOUT_S = 0.1  # the wait for a connection once the server is known to be away
RECONNECT_TIMEOUT_S = 2.0
CONNECT_TIMEOUT_S = 2  # libpq's connect_timeout (whole seconds; 2 is its minimum)


def alive(conn: Any) -> bool:
    """False for a connection the server has closed; one round trip only when in doubt."""
    if conn.closed or conn.broken:
        return False
    try:
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN)
        if not poller.poll(0):
            return True  # nothing pending on an idle connection: the usual case, no I/O
        ConnectionPool.check_connection(conn)
    except (psycopg.Error, OSError, ValueError):
        return False
    return True


class QuickAttempt(AttemptWithBackoff):
    """Reconnection attempts 0.1 s apart at first, then 1.5 times longer each (the library
    starts at 1 s and doubles): the pool finds a returning server within a few tenths."""

    INITIAL_DELAY = 0.1
    DELAY_BACKOFF = 1.5


class GuardedPoolMixin:
    """The behaviour above, for psycopg_pool.ConnectionPool and eventsourcing's subclass."""

    def _guard_init(self, where: str) -> None:
        self._where = where
        self._down_since: float | None = None
        self._down_reason = ""

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def _unavailable(self, reason: str) -> DatabaseUnavailable:
        return DatabaseUnavailable(
            f"cannot reach the PostgreSQL database at {self._where}: {reason}"
        )

    def _connect(self, timeout: float | None = None) -> Any:
        try:
            conn = super()._connect(timeout)  # type: ignore[misc]
        except Exception as exc:
            reason = first_line(exc)
            if self._down_since is None:
                self._down_since = monotonic()
            self._down_reason = reason
            # Everyone waiting would otherwise wait out their whole timeout for nothing.
            pool: Any = self
            with pool._lock:
                waiting, pool._waiting = list(pool._waiting), type(pool._waiting)()
            for client in waiting:
                client.fail(self._unavailable(reason))
            raise
        self._down_since = None
        return conn

    def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        pool: Any = self
        if attempt is None:
            attempt = QuickAttempt(timeout=pool.reconnect_timeout)
        super()._add_connection(attempt, growing)  # type: ignore[misc]

    def getconn(self, timeout: float | None = None) -> Any:
        pool: Any = self
        if not waiting_allowed() and not pool._pool:
            # A command on the API's event loop (api/inline.py): no idle connection means
            # a wait for one; it runs again on a worker thread instead.
            raise WouldBlock("no idle connection in the pool")
        budget = POOL_TIMEOUT_S if timeout is None else timeout
        if self._down_since is not None:
            budget = min(budget, DOWN_TIMEOUT_S)
        deadline = monotonic() + budget
        while True:
            try:
                conn = super().getconn(max(0.01, deadline - monotonic()))  # type: ignore[misc]
            except PoolTimeout:
                reason = self._down_reason if self.down else f"no connection within {budget:g} s"
                raise self._unavailable(reason) from None
            if alive(conn):
                return conn
            # Closed by the server while idle (a restart, a cut): drop it and every other
            # dead one in the pool, then take another.
            conn.close()
            pool.putconn(conn)
            pool.check()


class GuardedPool(GuardedPoolMixin, ConnectionPool):
    """The pool of the views, the tokens and the tiles (autocommit connections)."""

    def __init__(
        self,
        database: Database,
        *,
        min_size: int = 1,
        max_size: int = 8,
        configure: Callable[[Any], None] | None = None,
        name: str | None = None,
    ) -> None:
        self._guard_init(f"{database.host}:{database.port}/{database.dbname}")
        super().__init__(
            database.conninfo,
            min_size=min_size,
            max_size=max_size,
            configure=configure,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            timeout=POOL_TIMEOUT_S,
            reconnect_timeout=RECONNECT_TIMEOUT_S,
            name=name,
            open=True,
        )


def listen_connection(database: Database) -> psycopg.Connection[Any]:
    """A dedicated autocommit connection (LISTEN), with the pools' connect timeout."""
    return psycopg.connect(database.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)


# --- one pool per database and schema in a process ----------------------------------------

_shared: dict[tuple[str, str], tuple[GuardedPool, int]] = {}
_shared_lock = threading.Lock()


def _forget_after_fork() -> None:
    """A forked child (verify's workers) must not use its parent's pools: their sockets are
    the parent's and their threads did not come along. It starts its own, untouched."""
    global _shared_lock
    _shared.clear()
    _shared_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def _set_search_path(schema: str) -> Callable[[Any], None]:
    quoted = schema.replace('"', '""')

    def configure(conn: Any) -> None:
        conn.execute(f'SET search_path TO "{quoted}"')
        # Room for a page of records in the projections' temporary staging table.
        conn.execute("SET temp_buffers = '64MB'")

    return configure


def acquire_shared(database: Database) -> GuardedPool:
    """The process's pool for this database and schema (search_path set, autocommit),
    shared by every reader and writer outside eventsourcing; `release_shared` when done:
    the last release closes it."""
    key = (database.conninfo, database.schema)
    with _shared_lock:
        found = _shared.get(key)
        if found is None or found[0].closed:
            pool = GuardedPool(
                database,
                min_size=2,
                max_size=16,
                configure=_set_search_path(database.schema),
                name=f"syncledger-{database.schema}",
            )
            _shared[key] = (pool, 1)
            return pool
        _shared[key] = (found[0], found[1] + 1)
        return found[0]


def release_shared(database: Database) -> None:
    key = (database.conninfo, database.schema)
    with _shared_lock:
        found = _shared.get(key)
        if found is None:
            return
        pool, users = found
        if users > 1:
            _shared[key] = (pool, users - 1)
            return
        del _shared[key]
    pool.close()


def borrow(database: Database) -> tuple[GuardedPool, Any]:
    """A connection of the shared pool held for a while (a reader's or the tiles' own);
    hand it back with `give_back`."""
    pool = acquire_shared(database)
    try:
        return pool, pool.getconn()
    except BaseException:
        release_shared(database)
        raise


def give_back(database: Database, pool: GuardedPool, conn: Any) -> None:
    try:
        if not pool.closed:
            pool.putconn(conn)
        else:
            conn.close()
    finally:
        release_shared(database)
