"""Direct SQL edits of the event log, as an attacker with database access would make them."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from domain.infra.database import Database
from domain.infra.eventlog import forge


def _conn(database: Database) -> AbstractContextManager[tuple[Any, str, str, str]]:
    """(connection, events table, position column, placeholder); commits on exit. The one
    deliberate way around the event-log reader: `domain.infra.eventlog.forge`."""
    return forge(database)


def modify(database: Database, position: int) -> None:
    """Change one byte-level detail of the stored state (an actor name)."""
    with _conn(database) as (conn, table, pos, ph):
        (state,) = conn.execute(
            f"SELECT state FROM {table} WHERE {pos} = {ph}", (position,)
        ).fetchone()
        forged = bytes(state).replace(b'"actor":"alice"', b'"actor":"mallory"')
        assert forged != bytes(state)
        conn.execute(f"UPDATE {table} SET state = {ph} WHERE {pos} = {ph}", (forged, position))


def delete(database: Database, position: int) -> None:
    with _conn(database) as (conn, table, pos, ph):
        conn.execute(f"DELETE FROM {table} WHERE {pos} = {ph}", (position,))


def swap(database: Database, a: int, b: int) -> None:
    """Exchange the positions of two events."""
    with _conn(database) as (conn, table, pos, ph):
        conn.execute(f"UPDATE {table} SET {pos} = -1 WHERE {pos} = {ph}", (a,))
        conn.execute(f"UPDATE {table} SET {pos} = {ph} WHERE {pos} = {ph}", (a, b))
        conn.execute(f"UPDATE {table} SET {pos} = {ph} WHERE {pos} = -1", (b,))


def insert_after(database: Database, position: int) -> int:
    """Make room after `position` and insert a forged copy of that event there; returns
    the forged event's position."""
    with _conn(database) as (conn, table, pos, ph):
        row = conn.execute(
            f"SELECT originator_id, originator_version, topic, state FROM {table} "
            f"WHERE {pos} = {ph}",
            (position,),
        ).fetchone()
        (top,) = conn.execute(
            f"SELECT MAX(originator_version) FROM {table} WHERE originator_id = {ph}", (row[0],)
        ).fetchone()
        conn.execute(f"UPDATE {table} SET {pos} = -({pos} + 1) WHERE {pos} > {ph}", (position,))
        conn.execute(f"UPDATE {table} SET {pos} = -{pos} WHERE {pos} < 0")
        state = bytes(row[3]).replace(b'"actor":"alice"', b'"actor":"mallory"')
        conn.execute(
            f"INSERT INTO {table} ({pos}, originator_id, originator_version, topic, state) "
            f"VALUES ({ph}, {ph}, {ph}, {ph}, {ph})",
            (position + 1, row[0], top + 1, row[2], state),
        )
    return position + 1
