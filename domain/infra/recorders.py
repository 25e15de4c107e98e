"""Event recorders that also write a command's side rows in the events' own transaction.

A command can carry `SideWrite`s: small statements that belong with its events and must
commit (or roll back) with them - e.g. the worker-scope row "this token holds this
registration" written by a register. Run in the same transaction they cost no second
commit, no second wait for the SQLite write lock, and cannot be left half-done.

On PostgreSQL they run before the recorder takes its EXCLUSIVE lock on the events table,
so nothing is added to what concurrent writers queue behind.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg import Cursor
from psycopg.rows import DictRow

from domain.infra.outage import CommitUnknown, classify

SIDE_WRITES = "side_writes"  # the keyword `Application.save(...)` passes them under


@dataclass(frozen=True)
class SideWrite:
    """One statement with `?` placeholders (turned into `%s` on PostgreSQL)."""

    sql: str
    params: tuple[Any, ...] = ()


class SQLiteSideWriteRecorder(SQLiteApplicationRecorder):
    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        for write in kwargs.get(SIDE_WRITES, ()):
            c.execute(write.sql, write.params)
        return super()._insert_events(c, stored_events, **kwargs)


class PostgresSideWriteRecorder(PostgresApplicationRecorder):
    """Also tells a lost commit from a refused write: once the events' statements have all
    run, only COMMIT is left, and a connection lost then leaves the outcome unknown."""

    _phase = threading.local()

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self._phase.committing = False
        try:
            ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return ids
        except Exception as exc:
            # The library retries a lost connection; if an earlier attempt got as far as
            # its COMMIT, that commit's outcome is still unknown whatever happened after.
            if self._phase.committing and classify(exc) is not None:
                raise CommitUnknown(f"the connection was lost during COMMIT: {exc}") from exc
            raise
        finally:
            self._phase.committing = False

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids: Sequence[int] | None = super()._fetch_ids_after_insert_events(
            curs, stored_events, **kwargs
        )
        self._phase.committing = True
        return ids

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        for write in kwargs.get(SIDE_WRITES, ()):
            curs.execute(write.sql.replace("?", "%s"), write.params)
        super()._insert_events(curs, stored_events, **kwargs)
