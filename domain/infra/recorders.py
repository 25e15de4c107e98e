"""Event recorders that also write a command's side rows in the events' own transaction.

A command can carry `SideWrite`s: small statements that belong with its events and must
commit (or roll back) with them - e.g. the worker-scope row "this token holds this
registration" written by a register. Run in the same transaction they cost no second
commit, no second wait for the SQLite write lock, and cannot be left half-done.

On PostgreSQL they run before the recorder takes its EXCLUSIVE lock on the events table,
so nothing is added to what concurrent writers queue behind.

PostgreSQL, events without side rows (every command but a register): one call of a
server-side function, `syncledger_insert_events`, in autocommit. It takes the EXCLUSIVE
lock that keeps positions in commit order, notifies the runners and inserts, and the lock
ends with that statement's commit - held on the server only. The library's own path (BEGIN,
LOCK, NOTIFY, INSERT, a sync to read the positions, COMMIT) held it across two client round
trips, which is what concurrent writers queued behind (issue 16: 8 clients on distinct
registrations wrote only ~1.5x what one did). eventsourcing's optional function
(POSTGRES_ENABLE_DB_FUNCTIONS) inserts without that lock, so it is not used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

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
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema = Identifier(self.datastore.schema)
        function = Identifier(f"syncledger_insert_events_{self.datastore.originator_id_type}")
        self._insert_function = SQL("SELECT * FROM {schema}.{function}((%s))").format(
            schema=schema, function=function
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}(events {schema}.{event}[]) "
                "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ BEGIN "
                "SET LOCAL lock_timeout = '{lock_timeout}s'; "
                "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
                "NOTIFY {channel}; "
                "RETURN QUERY INSERT INTO {schema}.{table} AS t "
                "(originator_id, originator_version, topic, state) "
                "SELECT originator_id, originator_version, topic, state FROM unnest(events) "
                "RETURNING notification_id; "
                "END; $BODY$"
            ).format(
                schema=schema,
                function=function,
                event=Identifier(self.stored_event_type_name),
                lock_timeout=self.datastore.lock_timeout,
                table=Identifier(self.events_table_name),
                channel=Identifier(self.channel_name),
            )
        )

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if kwargs.get(SIDE_WRITES) or not stored_events:
            ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
        else:
            ids = self._insert_by_function(stored_events)
        return ids

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_by_function(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        rows = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._insert_function, (rows,), prepare=True)
            return [int(next(iter(row.values()))) for row in curs.fetchall()]

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        for write in kwargs.get(SIDE_WRITES, ()):
            curs.execute(write.sql.replace("?", "%s"), write.params)
        super()._insert_events(curs, stored_events, **kwargs)
