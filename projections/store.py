"""Connections to the database that holds the event log and the views.

One small `Tx` API over both backends. SQL is written with `?` placeholders; on
PostgreSQL they become `%s` (so SQL here never contains a literal `?` or `%`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from psycopg import IsolationLevel

from domain.infra.database import Database
from domain.infra.eventlog import table_name
from domain.infra.locks import sqlite_write_lock
from domain.infra.pgpool import acquire_shared, listen_connection, release_shared

# eventsourcing's PostgreSQL recorder NOTIFYs on a channel named after its events table.
PG_CHANNEL = table_name("postgresql")


class Tx:
    """A transaction (or read snapshot) on one connection."""

    def __init__(self, conn: Any, kind: str) -> None:
        self.conn = conn
        self.kind = kind
        self.pg = kind == "postgresql"

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.pg else text

    def q(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.conn.execute(self.sql(text), params)
        return list(cur.fetchall())

    def one(self, text: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.q(text, params)
        return rows[0] if rows else None

    def x(self, text: str, params: Sequence[Any] = ()) -> int:
        cur = self.conn.execute(self.sql(text), params)
        return int(cur.rowcount or 0)

    def many(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.pg:
            with self.conn.cursor() as cur:
                cur.executemany(self.sql(text), rows)
        else:
            self.conn.executemany(text, rows)

    def json_rows(self, columns: str, source: str) -> str:
        """A scalar subquery: the rows of `SELECT columns source` as one JSON array of arrays
        (text, "[]" for none), in no particular order. A read takes a few child rows (a
        registration's live sessions, a session's errors) in its one statement instead of
        a second query and the transaction around both (issue 16)."""
        if self.pg:
            return f"(SELECT COALESCE(json_agg(json_build_array({columns}))::text, '[]') {source})"
        return f"(SELECT json_group_array(json_array({columns})) {source})"

    def table_exists(self, name: str) -> bool:
        if self.pg:
            row = self.one("SELECT to_regclass(?) IS NOT NULL", (name,))
            return bool(row and row[0])
        row = self.one("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,))
        return row is not None


class Store:
    """Opens transactions on the event log's database (SQLite file or PostgreSQL schema)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.kind = database.kind
        self._local = threading.local()
        self._pool: Any = None
        self._reopen = threading.Lock()
        # The events table has been seen (it is never dropped): pages skip looking it up.
        self.log_seen = False
        if self.kind == "postgresql":
            self._pg()

    def _pg(self) -> Any:
        """The process's one pool for this schema (domain/infra/pgpool.py: it fails fast
        while the server is away and drops connections a restart closed); taken again when
        a closed store is used anew (an app whose lifespan runs twice)."""
        pool = self._pool
        if pool is None:
            with self._reopen:
                if self._pool is None:
                    self._pool = acquire_shared(self.database)
                pool = self._pool
        return pool

    def _sqlite(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.database.path, isolation_level=None, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def write(self, *, derived: bool = False) -> Iterator[Tx]:
        """One write transaction: committed on success, rolled back on any exception.

        `derived`: the transaction writes only what the event log can give again (a page of
        the views with its tracking positions). On PostgreSQL its commit then does not wait
        for the WAL to reach the disk (`synchronous_commit = off` for this transaction only):
        a crash can lose at most the last fraction of a second of such pages, and because
        the positions are lost with the rows, the runner applies those events again. The
        event log's own commits always wait. Each page used to flush the WAL too, and under
        concurrent writes the event log's commit, holding the lock that keeps positions in
        commit order, queued behind those flushes (docs/architecture.md, "Small requests")."""
        if self.kind == "postgresql":
            with self._pg().connection() as conn, conn.transaction():
                if derived:
                    conn.execute("SET LOCAL synchronous_commit TO OFF")
                yield Tx(conn, self.kind)
            return
        conn = self._sqlite()
        with sqlite_write_lock(self.database.path):
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(conn, self.kind)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def read(self, single: bool = False) -> Iterator[Tx]:
        """A consistent read snapshot. `single`: the caller runs one statement, whose own
        snapshot is consistent, so no transaction is opened (PostgreSQL: no BEGIN and COMMIT
        round trips - two of a one-query read's three)."""
        if single:
            with self._single() as tx:
                yield tx
            return
        if self.kind == "postgresql":
            with self._pg().connection() as conn:
                # Set on the connection, so BEGIN itself carries them: one round trip
                # less per read than a separate SET TRANSACTION (every small read paid it).
                conn.isolation_level = IsolationLevel.REPEATABLE_READ
                conn.read_only = True
                try:
                    with conn.transaction():
                        yield Tx(conn, self.kind)
                finally:
                    conn.isolation_level = None
                    conn.read_only = None
            return
        conn = self._sqlite()
        conn.execute("BEGIN")
        try:
            yield Tx(conn, self.kind)
        finally:
            conn.execute("COMMIT")

    @contextmanager
    def _single(self) -> Iterator[Tx]:
        if self.kind == "postgresql":
            with self._pg().connection() as conn:  # the shared pool's are in autocommit
                yield Tx(conn, self.kind)
            return
        yield Tx(self._sqlite(), self.kind)  # autocommit: the statement is its own snapshot

    def listen_connection(self) -> Any:
        """A dedicated autocommit PostgreSQL connection (for LISTEN)."""
        conn = listen_connection(self.database)
        conn.execute(f'LISTEN "{PG_CHANNEL}"')
        return conn

    def close(self) -> None:
        with self._reopen:
            pool, self._pool = self._pool, None
        if pool is not None:
            release_shared(self.database)
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
