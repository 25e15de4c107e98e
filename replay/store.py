"""The event log (through the one reader), page by page, on both backends.

The event log is read as stored rows (not through eventsourcing) so that verification sees
the exact stored bytes; `domain.infra.eventlog` owns the tables and the backend switch.
Every PostgreSQL connection sets `search_path` to the database's schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from domain.infra.database import Database
from domain.infra.eventlog import PAGE_SIZE, EventLog, StoredEvent, connect
from domain.infra.pgpool import GuardedPool, borrow, give_back


class Store:
    """One connection to the database (on PostgreSQL, borrowed from the process's shared
    pool): the event log through the one reader (`domain.infra.eventlog.EventLog`), plus
    the few other queries replay/ needs."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.kind = database.kind
        self._pool: GuardedPool | None = None
        self.conn: Any
        if self.kind == "postgresql":
            self._pool, self.conn = borrow(database)  # autocommit, search_path set
        else:
            self.conn = connect(database)
        self.log = EventLog(self.conn, self.kind)
        self.ph = self.log.ph
        if self.kind == "sqlite":
            # The ledger's durability (WAL + NORMAL): with the default FULL every commit
            # of replay's own tables waited for an fsync while holding the write lock.
            self.conn.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            give_back(self.database, pool, self.conn)
        else:
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


@contextmanager
def open_store(database: Database) -> Iterator[Store]:
    store = Store(database)
    try:
        yield store
    finally:
        store.close()


__all__ = ["PAGE_SIZE", "Store", "StoredEvent", "open_store"]
