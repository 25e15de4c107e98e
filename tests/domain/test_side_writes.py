"""Issue 16: the worker-scope claim used to be a second transaction after each register
(~40% of a register's time on SQLite, waiting behind the runner's page). A command's side
rows now commit in its events' own transaction: both are recorded, or neither."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from domain import Context, Database, Ledger
from domain.infra.recorders import SideWrite

CTX = Context("agent-a", "corr-1")


@contextmanager
def _connect(database: Database) -> Iterator[Any]:
    if database.kind == "sqlite":
        conn = sqlite3.connect(database.path, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()
        return
    with psycopg.connect(database.conninfo, autocommit=True) as pg:
        pg.execute(f'SET search_path TO "{database.schema}"')
        yield pg


def _held(database: Database) -> list[tuple[Any, ...]]:
    with _connect(database) as conn:
        return [tuple(r) for r in conn.execute("SELECT who, rid FROM held ORDER BY who")]


def test_side_rows_commit_with_the_event_or_not_at_all(database: Database) -> None:
    with _connect(database) as conn:
        conn.execute("CREATE TABLE held (who TEXT NOT NULL, rid TEXT NOT NULL UNIQUE)")
    ledger = Ledger(database=database)
    # The recorder's own connection: schema-qualified names on PostgreSQL, as api/auth.py's.
    table = "held" if database.kind == "sqlite" else f'"{database.schema}".held'
    try:
        claim = lambda rid: [SideWrite(f"INSERT INTO {table} VALUES (?, ?)", ("agent-a", str(rid)))]  # noqa: E731
        done = ledger.register(CTX, product="p", file_id="f1", side_writes=claim)
        assert done.created
        assert _held(database) == [("agent-a", str(done.registration_id))]

        # A side row that fails takes the event down with it: nothing is recorded.
        head = ledger.current_position()
        broken = lambda rid: [SideWrite("INSERT INTO no_such_table VALUES (?)", (str(rid),))]  # noqa: E731
        with pytest.raises(Exception):  # noqa: B017 - sqlite3 / psycopg error, not wrapped
            ledger.register(CTX, product="p", file_id="f2", side_writes=broken)
        assert ledger.current_position() == head

        # A repeated register records nothing, so its side rows are not run either.
        again = ledger.register(CTX, product="p", file_id="f1", side_writes=broken)
        assert not again.created and again.registration_id == done.registration_id
    finally:
        ledger.close()


def test_a_save_with_no_events_costs_no_round_trip_and_side_rows_never_go_alone(
    postgres_database: Database,
) -> None:
    """PostgreSQL: every save with events is one call of the insert function; one with none
    used to take the library's path, a pipelined transaction with nothing in it."""
    ledger = Ledger(database=postgres_database)
    recorder: Any = ledger.recorder
    opened = []
    connect = recorder.datastore.get_connection
    recorder.datastore.get_connection = lambda: opened.append(1) or connect()
    try:
        assert list(recorder.insert_events([])) == []
        assert opened == []
        with pytest.raises(ValueError, match="side rows"):
            recorder.insert_events([], side_writes=[SideWrite("SELECT 1")])
        assert opened == []
    finally:
        recorder.datastore.get_connection = connect
        ledger.close()
