"""The one reader of the event log: stored rows in position order, and their decoding.

Every module that reads events goes through here — the read models' catch-up, time
travel, the hash chain and its verification, exports, the HTTP history — so the table
names, the backend switch and the decoding (transcoder, escaped user dicts, upcasting to
the current class version) exist once.

Storage: SQLite `stored_events` (position = rowid), PostgreSQL `<schema>.syncledger_events`
(position = notification_id). A row is a `StoredEvent` tuple (position, originator id as
32 lowercase hex digits, originator version, topic, the exact stored state bytes): the
bytes are what the hash chain covers.

Decoding, two ways:
- `EventDecoder.domain_event` / `state`: through the application's mapper and transcoder,
  with upcasters — domain event objects, or their state with typed datetimes.
Stored bytes are the transcoded state, zstd-compressed when large (domain/infra/compressor.py:
events stored before compression existed are plain JSON and read the same way).

- `EventDecoder.raw_state`: the readers' fast path (the projections decode hundreds of
  thousands of records a second): plain `orjson.loads`, custom-type markers such as
  datetimes left as `{"_type_": ..., "_data_": ...}`, escaped user dicts unwrapped, and
  the same upcasters applied. Upcasters must therefore only add, drop or rename fields.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper
from eventsourcing.persistence import StoredEvent as LibraryStoredEvent
from eventsourcing.utils import resolve_topic

from domain.infra.compressor import PayloadCompressor, decompress
from domain.infra.database import Database
from domain.infra.transcoder import OrjsonTranscoder, needs_unescape, unescape

# (position, originator_id as 32 lowercase hex digits, originator_version, topic, state)
StoredEvent = tuple[int, str, int, str, bytes]

PAGE_SIZE = 5_000
_IN_CHUNK = 500  # originator ids per IN (...) query


def table_name(kind: str, what: str = "events") -> str:
    """eventsourcing's table for `what` ("events" or "snapshots") on a backend."""
    return f"syncledger_{what}" if kind == "postgresql" else f"stored_{what}"


class EventLog:
    """Reads the event table through one DB-API connection.

    The connection may be the caller's (the projections read the log inside the same
    snapshot as their views) or one opened by `EventLog.open`. PostgreSQL connections must
    have `search_path` set to the database's schema.
    """

    def __init__(self, conn: Any, kind: str) -> None:
        self.conn = conn
        self.kind = kind
        self.pg = kind == "postgresql"
        self.table = table_name(kind)
        self.pos = "notification_id" if self.pg else "rowid"
        self.ph = "%s" if self.pg else "?"
        # PostgreSQL's uuid as 32 hex digits straight away (what _row would make of it).
        oid = "replace(originator_id::text, '-', '')" if self.pg else "originator_id"
        self._columns = f"{self.pos}, {oid}, originator_version, topic, state"

    @classmethod
    @contextmanager
    def open(cls, database: Database) -> Iterator[EventLog]:
        """An EventLog on its own autocommit connection, closed on exit."""
        conn = connect(database)
        try:
            yield cls(conn, database.kind)
        finally:
            conn.close()

    # --- queries --------------------------------------------------------------------------

    def exists(self) -> bool:
        """False until the application has created the table (an empty database)."""
        if self.pg:
            row = self.conn.execute("SELECT to_regclass(%s)", (self.table,)).fetchone()
            return row is not None and row[0] is not None
        row = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (self.table,)
        ).fetchone()
        return row is not None

    def max_position(self) -> int:
        """The position of the newest event (0 for an empty log)."""
        if not self.exists():
            return 0
        row = self.conn.execute(f"SELECT MAX({self.pos}) FROM {self.table}").fetchone()
        return int(row[0] or 0)

    def max_position_sql(self) -> str:
        """`max_position` as a scalar subquery, to fold into another statement (the last
        key of the position index, not a scan; the table must exist)."""
        return f"(SELECT MAX({self.pos}) FROM {self.table})"

    def count(self, stop: int | None = None) -> int:
        if not self.exists():
            return 0
        sql = f"SELECT COUNT(*) FROM {self.table}"
        params: tuple[Any, ...] = ()
        if stop is not None:
            sql += f" WHERE {self.pos} <= {self.ph}"
            params = (stop,)
        return int(self.conn.execute(sql, params).fetchone()[0])

    def after(self, position: int, limit: int) -> list[StoredEvent]:
        """Up to `limit` events with a position above `position`, in order."""
        sql = (
            f"SELECT {self._columns} FROM {self.table} "
            f"WHERE {self.pos} > {self.ph} ORDER BY {self.pos} LIMIT {self.ph}"
        )
        return self._fetch(sql, (position, limit))

    def pages(
        self, start: int = 1, stop: int | None = None, page_size: int = PAGE_SIZE
    ) -> Iterator[list[StoredEvent]]:
        """Events with start <= position (<= stop), in position order, a page at a time."""
        if not self.exists():
            return
        sql = f"SELECT {self._columns} FROM {self.table} WHERE {self.pos} >= {self.ph}"
        if stop is not None:
            sql += f" AND {self.pos} <= {self.ph}"
        sql += f" ORDER BY {self.pos} LIMIT {self.ph}"
        position = start
        while True:
            params = (position, stop, page_size) if stop is not None else (position, page_size)
            page = self._fetch(sql, params)
            if not page:
                return
            yield page
            if len(page) < page_size:
                return
            position = page[-1][0] + 1

    def at(self, position: int) -> StoredEvent | None:
        if not self.exists():
            return None
        sql = f"SELECT {self._columns} FROM {self.table} WHERE {self.pos} = {self.ph}"
        found = self._fetch(sql, (position,))
        return found[0] if found else None

    def of_aggregates(
        self,
        originator_ids: Sequence[UUID],
        *,
        after: int = 0,
        stop: int | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """Events of the given aggregates with after < position (<= stop), in position
        order, at most `limit` (read through the (originator_id, version) primary key)."""
        found: list[StoredEvent] = []
        if not originator_ids or not self.exists():
            return found
        for i in range(0, len(originator_ids), _IN_CHUNK):
            chunk = originator_ids[i : i + _IN_CHUNK]
            params: list[Any] = [u if self.pg else u.hex for u in chunk]
            marks = ", ".join([self.ph] * len(params))
            sql = (
                f"SELECT {self._columns} FROM {self.table} "
                f"WHERE originator_id IN ({marks}) AND {self.pos} > {self.ph}"
            )
            params.append(after)
            if stop is not None:
                sql += f" AND {self.pos} <= {self.ph}"
                params.append(stop)
            sql += f" ORDER BY {self.pos}"
            if limit is not None:
                sql += f" LIMIT {self.ph}"
                params.append(limit)
            found += self._fetch(sql, params)
        if len(originator_ids) > _IN_CHUNK:
            found.sort()
            if limit is not None:
                del found[limit:]
        return found

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[StoredEvent]:
        # PostgreSQL: binary results, so bytea arrives as bytes (not hex text to decode).
        cur = self.conn.cursor(binary=True) if self.pg else self.conn.cursor()
        try:
            rows = cur.execute(sql, params).fetchall()
        finally:
            cur.close()
        return [
            # The rows the recorders write are already in shape (the hot path: verification
            # reads every row); only hand-edited ones go through _row.
            r
            if type(r[4]) is bytes
            and type(r[2]) is int
            and type(r[1]) is str
            and len(r[1]) == 32
            and (r[1].islower() or r[1].isdigit())
            and type(r[3]) is str
            and type(r[0]) is int
            else _row(r)
            for r in rows
        ]


def connect(database: Database) -> Any:
    """An autocommit connection to the event log's database (search_path set)."""
    if database.kind == "sqlite":
        conn = sqlite3.connect(database.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=30000")
        return conn
    import psycopg

    pg = psycopg.connect(database.conninfo, autocommit=True)
    schema = database.schema.replace('"', '""')
    pg.execute(f'SET search_path TO "{schema}"')
    return pg


def _row(row: Sequence[Any]) -> StoredEvent:
    """A stored row. Rows edited by hand may hold other types (SQLite keeps what it is
    given): they become something that hashes differently instead of an exception, so
    verification reports them (replay/verify.py) rather than failing."""
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


def event_type(topic: str) -> str:
    """`domain.session:Session.RecordsSynced` -> `Session.RecordsSynced`."""
    return topic.rpartition(":")[2]


# --- decoding -------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _event_class(topic: str) -> tuple[type[Any] | None, int]:
    """The class a topic names and its current class version (None, 1 if unknown)."""
    try:
        cls = resolve_topic(topic)
    except Exception:
        return None, 1
    return cls, int(getattr(cls, "class_version", 1))


def upcast(topic: str, state: dict[str, Any]) -> dict[str, Any]:
    """Bring an event's state to its class's current version, in place, with the class's
    `upcast_vN_vN+1` hooks (eventsourcing's upcasting). Unknown topics stay as stored."""
    from_version = state.pop("class_version", 1)
    cls, version = _event_class(topic)
    while cls is not None and from_version < version:
        getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
        from_version += 1
    return state


class EventDecoder:
    """Turns stored events into domain events, or into their state as a dict."""

    def __init__(self, mapper: Mapper[UUID] | None = None) -> None:
        self.mapper: Mapper[UUID] = mapper or Mapper(
            transcoder=OrjsonTranscoder(), compressor=PayloadCompressor()
        )

    def domain_event(self, event: StoredEvent) -> DomainEventProtocol[UUID]:
        """The domain event object, exactly as the application would load it."""
        _, originator_id, version, topic, state = event
        stored = LibraryStoredEvent(
            originator_id=UUID(hex=originator_id),
            originator_version=version,
            topic=topic,
            state=state,
        )
        return self.mapper.to_domain_event(stored)

    def state(self, topic: str, state: bytes) -> dict[str, Any]:
        """The event's attributes (timestamp a datetime), upcast to the current version."""
        data = self.mapper.transcoder.decode(decompress(state))
        if not isinstance(data, dict):
            raise ValueError("event state is not an object")
        return upcast(topic, data)

    @staticmethod
    def raw_state(topic: str, state: bytes) -> dict[str, Any]:
        """The fast path: attributes with custom types left as markers, upcast."""
        state = decompress(state)
        data = orjson.loads(state)
        if not isinstance(data, dict):
            raise ValueError("event state is not an object")
        if needs_unescape(state):
            data = unescape(data)
        # eventsourcing writes `class_version` only for classes above version 1.
        return upcast(topic, data) if _event_class(topic)[1] > 1 else data


DECODER = EventDecoder()


# --- forging, for tamper tests only -----------------------------------------------------------


@contextmanager
def forge(database: Database) -> Iterator[tuple[Any, str, str, str]]:
    """FOR TAMPER TESTS ONLY: (connection, events table, position column, placeholder) in
    one transaction, committed on exit, to edit the log behind the application's back the
    way an attacker with database access would. Nothing in the product writes through it."""
    kind = database.kind
    pos, ph = ("notification_id", "%s") if kind == "postgresql" else ("rowid", "?")
    if kind == "sqlite":
        conn = sqlite3.connect(database.path, timeout=30)
        try:
            yield conn, table_name(kind), pos, ph
            conn.commit()
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(database.conninfo) as pg:
        pg.execute(f'SET search_path TO "{database.schema}"')
        yield pg, table_name(kind), pos, ph
