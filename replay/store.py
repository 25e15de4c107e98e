"""The event log (through the one reader) and the chain heads, page by page, on both backends.

The event log is read as stored rows (not through eventsourcing) so that verification sees
the exact stored bytes; `domain.infra.eventlog` owns the tables and the backend switch.
Every PostgreSQL connection sets `search_path` to the database's schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from domain.infra.database import Database
from domain.infra.eventlog import PAGE_SIZE, EventLog, StoredEvent, connect
from domain.infra.locks import sqlite_write_lock

HEADS_DDL = (
    "CREATE TABLE IF NOT EXISTS chain_heads ("
    "position {int} PRIMARY KEY, digest TEXT NOT NULL, recorded_at TEXT NOT NULL)"
)


class Store:
    """One connection to the database: the event log through the one reader
    (`domain.infra.eventlog.EventLog`), plus the few other queries replay/ needs."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.kind = database.kind
        self.conn: Any = connect(database)
        self.log = EventLog(self.conn, self.kind)
        self.ph = self.log.ph
        if self.kind == "sqlite":
            # The ledger's durability (WAL + NORMAL): with the default FULL every commit
            # of replay's own tables waited for an fsync while holding the write lock.
            self.conn.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        self.conn.close()

    # --- event log ----------------------------------------------------------------------

    def has_events_table(self) -> bool:
        return self.log.exists()

    def max_position(self) -> int:
        return self.log.max_position()

    def count_events(self, stop: int | None = None) -> int:
        return self.log.count(stop)

    def event_pages(
        self, start: int = 1, stop: int | None = None, page_size: int = PAGE_SIZE
    ) -> Iterator[list[StoredEvent]]:
        """Events with start <= position (<= stop), in position order, a page at a time."""
        return self.log.pages(start, stop, page_size)

    def events_of(self, originator_ids: Sequence[UUID], stop: int | None) -> list[StoredEvent]:
        """Every event of the given aggregates (up to `stop`), in position order."""
        return self.log.of_aggregates(originator_ids, stop=stop)

    # --- chain heads --------------------------------------------------------------------

    def ensure_heads(self) -> None:
        self.conn.execute(HEADS_DDL.format(int="INTEGER" if self.kind == "sqlite" else "BIGINT"))

    def last_head(self) -> tuple[int, str] | None:
        self.ensure_heads()
        row = self.conn.execute(
            "SELECT position, digest FROM chain_heads ORDER BY position DESC LIMIT 1"
        ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def head_at(self, position: int) -> str | None:
        self.ensure_heads()
        row = self.conn.execute(
            f"SELECT digest FROM chain_heads WHERE position = {self.ph}", (position,)
        ).fetchone()
        return str(row[0]) if row else None

    def save_heads(self, heads: Iterable[tuple[int, str, str]]) -> None:
        """Insert (position, digest, recorded_at) rows in one transaction."""
        rows = list(heads)
        if not rows:
            return
        verb = "INSERT OR IGNORE" if self.kind == "sqlite" else "INSERT"
        tail = "" if self.kind == "sqlite" else " ON CONFLICT (position) DO NOTHING"
        marks = ", ".join([self.ph] * 3)
        sql = f"{verb} INTO chain_heads (position, digest, recorded_at) VALUES ({marks}){tail}"
        if self.kind == "sqlite":
            with sqlite_write_lock(self.database.path):
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    self.conn.executemany(sql, rows)
                    self.conn.execute("COMMIT")
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
        else:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.executemany(sql, rows)

    def head_pages(
        self, start: int = 1, stop: int | None = None, page_size: int = PAGE_SIZE
    ) -> Iterator[list[tuple[int, str]]]:
        self.ensure_heads()
        sql = f"SELECT position, digest FROM chain_heads WHERE position >= {self.ph}"
        if stop is not None:
            sql += f" AND position <= {self.ph}"
        sql += f" ORDER BY position LIMIT {self.ph}"
        position = start
        while True:
            params = (position, stop, page_size) if stop is not None else (position, page_size)
            rows = [(int(r[0]), str(r[1])) for r in self.conn.execute(sql, params).fetchall()]
            if not rows:
                return
            yield rows
            if len(rows) < page_size:
                return
            position = rows[-1][0] + 1


@contextmanager
def open_store(database: Database) -> Iterator[Store]:
    store = Store(database)
    try:
        yield store
    finally:
        store.close()


__all__ = ["PAGE_SIZE", "Store", "StoredEvent", "open_store"]
