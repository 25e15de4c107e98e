"""Plain-SQL access to the event log, page by page, on both backends.

The event log is read directly (not through eventsourcing) so that verification sees the
exact stored bytes: SQLite `stored_events` (position = rowid), PostgreSQL
`<schema>.syncledger_events` (position = notification_id). Every PostgreSQL connection sets
`search_path` to the database's schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg

from domain.infra.database import Database

PAGE_SIZE = 5_000

# (position, originator_id as 32 lowercase hex digits, originator_version, topic, state)
StoredEvent = tuple[int, str, int, str, bytes]


class Store:
    """One connection to the database, with the few queries replay/ needs."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.kind = database.kind
        self.conn: Any
        if self.kind == "sqlite":
            self.conn = sqlite3.connect(database.path, timeout=30, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout=30000")
            # The ledger's durability (WAL + NORMAL): with the default FULL every chain
            # commit waited for an fsync while holding the file's write lock.
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.events_table = "stored_events"
            self.pos = "rowid"
            self.ph = "?"
        else:
            self.conn = psycopg.connect(database.conninfo, autocommit=True)
            schema = database.schema.replace('"', '""')
            self.conn.execute(f'SET search_path TO "{schema}"')
            self.events_table = "syncledger_events"
            self.pos = "notification_id"
            self.ph = "%s"

    def close(self) -> None:
        self.conn.close()

    # --- event log ----------------------------------------------------------------------

    def has_events_table(self) -> bool:
        if self.kind == "sqlite":
            row = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='stored_events'"
            ).fetchone()
            return row is not None
        row = self.conn.execute("SELECT to_regclass('syncledger_events')").fetchone()
        return row is not None and row[0] is not None

    def max_position(self) -> int:
        if not self.has_events_table():
            return 0
        row = self.conn.execute(f"SELECT MAX({self.pos}) FROM {self.events_table}").fetchone()
        return int(row[0] or 0)

    def count_events(self, stop: int | None = None) -> int:
        if not self.has_events_table():
            return 0
        sql = f"SELECT COUNT(*) FROM {self.events_table}"
        params: tuple[Any, ...] = ()
        if stop is not None:
            sql += f" WHERE {self.pos} <= {self.ph}"
            params = (stop,)
        return int(self.conn.execute(sql, params).fetchone()[0])

    def event_pages(
        self, start: int = 1, stop: int | None = None, page_size: int = PAGE_SIZE
    ) -> Iterator[list[StoredEvent]]:
        """Events with start <= position (<= stop), in position order, a page at a time."""
        if not self.has_events_table():
            return
        sql = (
            f"SELECT {self.pos}, originator_id, originator_version, topic, state "
            f"FROM {self.events_table} WHERE {self.pos} >= {self.ph}"
        )
        if stop is not None:
            sql += f" AND {self.pos} <= {self.ph}"
        sql += f" ORDER BY {self.pos} LIMIT {self.ph}"
        position = start
        while True:
            params = (position, stop, page_size) if stop is not None else (position, page_size)
            rows = self.conn.execute(sql, params).fetchall()
            if not rows:
                return
            page = [_event(r) for r in rows]
            yield page
            if len(rows) < page_size:
                return
            position = page[-1][0] + 1

    def events_of(self, originator_ids: Sequence[UUID], stop: int | None) -> list[StoredEvent]:
        """Every event of the given aggregates (up to `stop`), in position order."""
        found: list[StoredEvent] = []
        if not originator_ids or not self.has_events_table():
            return found
        for i in range(0, len(originator_ids), 500):
            chunk = originator_ids[i : i + 500]
            keys: list[Any] = [u.hex if self.kind == "sqlite" else u for u in chunk]
            marks = ", ".join([self.ph] * len(keys))
            sql = (
                f"SELECT {self.pos}, originator_id, originator_version, topic, state "
                f"FROM {self.events_table} WHERE originator_id IN ({marks})"
            )
            if stop is not None:
                sql += f" AND {self.pos} <= {self.ph}"
                keys.append(stop)
            rows = self.conn.execute(sql, keys).fetchall()
            found += [_event(r) for r in rows]
        found.sort()
        return found


@contextmanager
def open_store(database: Database) -> Iterator[Store]:
    store = Store(database)
    try:
        yield store
    finally:
        store.close()


def _event(row: Sequence[Any]) -> StoredEvent:
    """A row as (position, id hex, version, topic, state bytes). Rows someone edited by hand
    may hold other types (SQLite stores what it is given): they are turned into something
    that hashes differently instead of failing, so verification reports them."""
    position, originator_id, version, topic, state = row
    if not isinstance(state, bytes):
        state = state.encode() if isinstance(state, str) else bytes(state or b"")
    if not isinstance(version, int):
        try:
            version = int(version)
        except (TypeError, ValueError):
            version = -1
    return (int(position), _hex(originator_id), version, str(topic), state)


def _hex(originator_id: Any) -> str:
    if isinstance(originator_id, UUID):
        return originator_id.hex
    text = str(originator_id)
    if len(text) == 32:
        return text.lower()
    try:
        return UUID(text).hex
    except ValueError:
        return text  # not an id at all: hashed as it is
