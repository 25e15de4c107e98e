"""Event recorders that also write a command's side rows in the events' own transaction.

A command can carry `SideWrite`s: small statements that belong with its events and must
commit (or roll back) with them - e.g. the worker-scope row "this token holds this
registration" written by a register. Run in the same transaction they cost no second
commit, no second wait for the SQLite write lock, and cannot be left half-done.

PostgreSQL: every save with events is one call of a server-side function,
`syncledger_insert_events_v5_*`, in autocommit. It takes the EXCLUSIVE lock that keeps
positions in commit order, checks the guards, notifies the runners and inserts, and the lock
ends with that statement's commit - held on the server only. The library's own path (BEGIN,
LOCK, NOTIFY, INSERT, a sync to read the positions, COMMIT) held it across two client round
trips, which is what concurrent writers queued behind (issue 16: 8 clients on distinct
registrations wrote only ~1.5x what one did). eventsourcing's optional function
(POSTGRES_ENABLE_DB_FUNCTIONS) inserts without that lock, so it is not used.

The events go to the function as four arrays of plain values (ids, versions, topics,
states), not as an array of the library's composite type: psycopg dumps a composite in
Python, field by field, and that was ~10% of the API process's time per small write (a
py-spy profile of heartbeats, issue 16); arrays of scalars are dumped in C.

A save with side rows (a register's worker-scope claim) sends them in the same statement,
as data-modifying CTEs ahead of the call (`WITH w0 AS (INSERT ...) SELECT * FROM f(...)`):
one statement, one commit, and an error in either rolls back both. (A pipelined
BEGIN/rows/call/COMMIT was one round trip too, but psycopg's pipeline mode cost more CPU
than the statements it saved: 186-199 us against 129-148 us for four plain round trips on
this machine.)

Concurrent saves of this process share one such call (group commit, domain/infra/groupcommit.py):
one lock hold and one WAL flush for all of them instead of one each. The function returns
each row's key with its position, so every caller gets the positions of its own events
(by key, not by trusting RETURNING's order). A save with side rows makes its own call: a
side row that fails must take only its own events down, not a shared call's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg import errors as pg_errors
from psycopg.sql import SQL, Identifier

from domain.infra.groupcommit import GroupCommit
from domain.infra.locks import WouldBlock, waiting_allowed
from domain.infra.outage import CommitUnknown

# One event as the insert function takes it: originator id, version, topic, state.
Row = tuple[Any, int, str, bytes]
SIDE_WRITES = "side_writes"  # the keyword `Application.save(...)` passes them under
# (aggregate id, version) pairs a command read but does not save: the save is refused
# (IntegrityError) if the log holds a later version of any (domain/unit_of_work.py).
GUARDS = "guards"


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
        ids = super()._insert_events(c, stored_events, **kwargs)
        # After the first write: the transaction holds SQLite's write lock, so nobody can
        # add a version between this look and the commit. (A read first would start a
        # snapshot that a writer outside the file's write lock could make stale, and the
        # upgrade to writing then fails at once, "database is locked", with no busy wait.)
        for aggregate_id, version in kwargs.get(GUARDS, ()):
            c.execute(
                f"SELECT 1 FROM {self.events_table_name} "
                "WHERE originator_id = ? AND originator_version > ? LIMIT 1",
                # Stored as the library stores it: a UUID's hex, other ids as they are.
                (aggregate_id.hex if isinstance(aggregate_id, UUID) else aggregate_id, version),
            )
            if c.fetchone() is not None:
                raise IntegrityError(f"aggregate {aggregate_id} moved on from version {version}")
        return ids


# The library's retries of a call that lost its connection (its `retry` on insert_events).
ATTEMPTS = 10
RETRY_WAIT_S = 0.2


class _Lost(Exception):
    """The connection went while the call was on the server: its commit outcome is unknown."""


class PostgresSideWriteRecorder(PostgresApplicationRecorder):
    """Every save with events is one call of the insert function (module docstring), and
    tells a lost commit from a refused write: once the call is sent (in autocommit), the
    commit is in flight, and a connection lost then leaves the outcome unknown."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema = Identifier(self.datastore.schema)
        id_type = self.datastore.originator_id_type
        # A new name: the earlier `syncledger_insert_events_*` returned positions only,
        # `..._keyed_*` took no guards, `..._guarded_*` always waited for the lock and `_v4_`
        # took the events as composites; CREATE OR REPLACE cannot change a function's
        # arguments or result type.
        function = Identifier(f"syncledger_insert_events_v5_{id_type}")
        self._uuid_ids = id_type == "uuid"
        self._insert_function = SQL(
            "SELECT * FROM {schema}.{function}(%s::{id_type}[], %s::bigint[], %s::text[], "
            "%s::bytea[], %s::{id_type}[], %s::bigint[], %s)"
        ).format(schema=schema, function=function, id_type=Identifier(id_type))
        # The call's text as bytes, made once: psycopg turns a composed statement into bytes
        # on every execute, ~2.5% of the API process's time per small write (py-spy, issue
        # 16). Identifiers are quoted the same without a connection.
        self._insert_bytes = self._insert_function.as_bytes(None)
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}(ids {id_type}[], "
                "versions bigint[], topics text[], states bytea[], "
                "guard_ids {id_type}[], guard_versions bigint[], nowait boolean) "
                "RETURNS TABLE (event_position bigint, event_id {id_type}, event_version bigint) "
                "LANGUAGE plpgsql AS $BODY$ BEGIN "
                # `nowait`: a command on the API's event loop (api/inline.py) is refused
                # (lock_not_available) rather than wait for another process's save.
                "IF nowait THEN "
                "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE NOWAIT; "
                "ELSE "
                "SET LOCAL lock_timeout = '{lock_timeout}s'; "
                "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
                "END IF; "
                # Under the lock: an aggregate a command only read must not have moved on
                # (domain/unit_of_work.py); refused like a stale aggregate's own version.
                "IF EXISTS (SELECT 1 FROM unnest(guard_ids, guard_versions) AS g(id, v) "
                "JOIN {schema}.{table} AS s ON s.originator_id = g.id "
                "AND s.originator_version > g.v) THEN "
                "RAISE unique_violation USING MESSAGE = 'an aggregate read has moved on'; "
                "END IF; "
                "NOTIFY {channel}; "
                "RETURN QUERY INSERT INTO {schema}.{table} AS t "
                "(originator_id, originator_version, topic, state) "
                "SELECT e.id, e.version, e.topic, e.state "
                "FROM unnest(ids, versions, topics, states) AS e(id, version, topic, state) "
                "RETURNING t.notification_id, t.originator_id, t.originator_version; "
                "END; $BODY$"
            ).format(
                schema=schema,
                function=function,
                id_type=Identifier(id_type),
                lock_timeout=self.datastore.lock_timeout,
                table=Identifier(self.events_table_name),
                channel=Identifier(self.channel_name),
            )
        )
        self.group_commit: GroupCommit[Row, tuple[Any, int]] = GroupCommit(self._call)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        writes: Sequence[SideWrite] = kwargs.get(SIDE_WRITES, ())
        if not stored_events:
            # Nothing to insert: no round trip (the library's path opened a transaction
            # for it). Side rows are committed with events, so they never come alone.
            if writes:
                raise ValueError("side rows are written with a save's events, not alone")
            return []
        rows = [(e.originator_id, e.originator_version, e.topic, e.state) for e in stored_events]
        if writes:
            # Not shared with other saves: a side row that fails must take down only its
            # own command's events.
            return self._call(rows, kwargs.get(GUARDS, ()), writes)
        return self.group_commit.submit(rows, kwargs.get(GUARDS, ()))

    def _call(
        self,
        rows: Sequence[Row],
        guards: Sequence[tuple[Any, int]] = (),
        writes: Sequence[SideWrite] = (),
    ) -> list[int]:
        """One function call inserting `rows` (one commit); their positions, in their order.
        With side `writes`, they and the call are one statement (CTEs ahead of the call).

        Retried as the library retries a lost connection. Once an attempt was lost on the
        server its commit outcome is unknown: a later attempt that succeeds shows it did not
        commit (its rows would collide), but any other end is CommitUnknown - an
        IntegrityError then may be the lost attempt's own rows."""
        lost: Exception | None = None
        ids = [i if self._uuid_ids else str(i) for i, _ in guards]
        versions = [v for _, v in guards]
        for attempt in range(1, ATTEMPTS + 1):
            try:
                returned = self._attempt(rows, ids, versions, writes)
            except (_Lost, InterfaceError, OperationalError) as exc:
                lost = exc if isinstance(exc, _Lost) else lost
                if attempt == ATTEMPTS:
                    if lost is not None:
                        raise CommitUnknown(
                            f"the connection was lost during COMMIT: {exc}"
                        ) from exc
                    raise
                time.sleep(RETRY_WAIT_S)
                continue
            except Exception as exc:
                if lost is not None:
                    raise CommitUnknown(f"the connection was lost during COMMIT: {lost}") from exc
                raise
            positions = {self._key(id_, version): position for position, id_, version in returned}
            return [positions[self._key(id_, version)] for id_, version, _, _ in rows]
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self, rows: Sequence[Row], ids: list[Any], versions: list[int], writes: Sequence[SideWrite]
    ) -> list[tuple[int, Any, int]]:
        nowait = not waiting_allowed()
        events = (
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            try:
                if writes:
                    # The side rows as CTEs of the call's own statement (module docstring):
                    # one statement in autocommit, so they commit or fail with the events.
                    ctes = SQL(", ").join(
                        SQL("{} AS ({})").format(Identifier(f"w{n}"), SQL(w.sql.replace("?", "%s")))
                        for n, w in enumerate(writes)
                    )
                    params = [p for w in writes for p in w.params]
                    query = SQL("WITH {} {}").format(ctes, self._insert_function)
                    curs.execute(query, (*params, *events, ids, versions, nowait))
                else:
                    # One statement in autocommit: it commits as it runs.
                    curs.execute(self._insert_bytes, (*events, ids, versions, nowait), prepare=True)
                return [
                    (r["event_position"], r["event_id"], r["event_version"])
                    for r in curs.fetchall()
                ]
            except pg_errors.LockNotAvailable as exc:
                if nowait:  # refused before anything was written (the statement's first act)
                    raise WouldBlock("another process is saving to the log") from exc
                raise
            except psycopg.Error as exc:
                # An answer from the server (a SQLSTATE on a live connection) is a refusal:
                # the statement rolled back. No answer leaves the commit's outcome unknown.
                if exc.sqlstate is None or conn.broken or conn.closed:
                    raise _Lost(str(exc)) from exc
                raise

    def _key(self, originator_id: Any, version: int) -> tuple[str, int]:
        # A uuid column answers UUIDs; the rows may carry a UUID or its text in any spelling.
        text = str(originator_id)
        return (str(UUID(text)) if self._uuid_ids else text, int(version))
