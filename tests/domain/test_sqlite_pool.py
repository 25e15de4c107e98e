"""The tuned SQLite pool never closes a connection another thread is executing on.

CPython's sqlite3 crashes the interpreter when one thread closes a connection while
another is inside `execute()` on it (check_same_thread=False). eventsourcing's pool did
exactly that on `close()`; ours defers the close to the thread that returns the
connection (domain/infra/sqlite_store.py). SQLite only: the PostgreSQL pool is psycopg's.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from eventsourcing.persistence import ConnectionNotFromPoolError

from domain.infra.database import Database
from domain.infra.locks import sqlite_write_lock
from domain.infra.sqlite_store import Factory


def _factory(tmp_path: Path) -> Factory:
    database = Database.from_url(f"sqlite:///{tmp_path / 'pool.db'}")
    factory = Factory(database.eventsourcing_env())
    factory.application_recorder()  # creates the tables
    return factory


@pytest.mark.parametrize("writer", [True, False])
def test_a_connection_in_use_is_closed_by_its_own_thread(tmp_path: Path, writer: bool) -> None:
    factory = _factory(tmp_path)
    pool = factory.datastore.pool
    checked_out = threading.Event()
    pool_closed = threading.Event()
    seen: dict[str, object] = {}

    def user() -> None:
        conn = pool.get_connection(is_writer=writer)
        checked_out.set()
        pool_closed.wait(10)
        # Still open and usable after another thread closed the pool...
        seen["closed_while_used"] = conn.closed
        with conn.transaction(commit=False) as cursor:
            cursor.execute("SELECT 42")
            seen["answer"] = cursor.fetchone()[0]
        # ...and closed when this thread gives it back.
        pool.put_connection(conn)
        seen["closed_after_return"] = conn.closed

    thread = threading.Thread(target=user)
    thread.start()
    assert checked_out.wait(10)
    factory.close()
    pool_closed.set()
    thread.join(10)
    assert seen == {"closed_while_used": False, "answer": 42, "closed_after_return": True}
    assert pool.num_in_use == 0 and pool.num_in_pool == 0
    # The file's write lock (shared by every pool on it in this process) was given back.
    lock = sqlite_write_lock(str(tmp_path / "pool.db"))
    assert lock.acquire(timeout=0)
    lock.release()


def test_idle_connections_close_at_once_and_strangers_are_refused(tmp_path: Path) -> None:
    factory = _factory(tmp_path)
    pool = factory.datastore.pool
    conn = pool.get_connection(is_writer=False)
    pool.put_connection(conn)
    assert not conn.closed
    factory.close()
    assert conn.closed
    with pytest.raises(ConnectionNotFromPoolError):
        pool.put_connection(conn)
