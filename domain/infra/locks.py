"""Locks that keep processes and threads from tripping over each other in the database."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from domain.infra.database import Database


@contextmanager
def schema_setup_lock(database: Database | None) -> Iterator[None]:
    """Serialise table/function creation across processes starting at once (PostgreSQL).

    eventsourcing runs CREATE OR REPLACE FUNCTION on every start; two processes doing it
    together fail with "tuple concurrently updated". A session advisory lock keyed on the
    schema makes them take turns. SQLite needs nothing.
    """
    if database is None or database.kind != "postgresql":
        yield
        return
    import psycopg

    with psycopg.connect(database.conninfo, autocommit=True, connect_timeout=2) as conn:
        key = f"syncledger-schema:{database.schema}"
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))


class WouldBlock(Exception):  # noqa: N818 - a signal to the caller, not an error
    """Raised, under `no_waiting()`, where a command would have waited for a lock: a
    writer on another thread or process, or the registration's lock. Nothing was written
    (the flag is dropped the moment a command's events are saved, see `may_wait_again`),
    so the caller runs the same call again where waiting is harmless (a worker thread)."""


_waiting = threading.local()


@contextmanager
def no_waiting() -> Iterator[None]:
    """Within this block (this thread only), a lock that is taken raises WouldBlock
    instead of waiting. The API runs small SQLite commands on its event loop this way
    (api/inline.py): a wait there would stall every other request."""
    _waiting.refused = True
    try:
        yield
    finally:
        _waiting.refused = False


def waiting_allowed() -> bool:
    return not getattr(_waiting, "refused", False)


def may_wait_again() -> None:
    """The command's events are saved: what follows must finish, never run twice, so
    from here on it waits like any other code (UnitOfWork._record calls this once the
    events are committed)."""
    _waiting.refused = False


class SQLiteWriteLock:
    """Every writer to one SQLite file takes this lock: the ledger, the views, the chain.

    SQLite allows one writer at a time and makes the others wait by sleeping and retrying
    (busy_timeout), which wastes most of the wait. Writers queue here instead: threads of
    one process on a mutex, processes on an flock() of `<file>.writelock`, both woken the
    moment the holder lets go. SQLite's own locking still guards correctness.
    """

    def __init__(self, path: str) -> None:
        self.path = path + ".writelock"
        self._threads = threading.Lock()
        self._fd: int | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        waits = waiting_allowed()
        if not self._threads.acquire(blocking and waits, timeout if waits else -1):
            if not waits:
                raise WouldBlock("the SQLite write lock is held by another thread")
            return False
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX if waits else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._threads.release()
            raise WouldBlock("the SQLite write lock is held by another process") from None
        except BaseException:
            self._threads.release()
            raise
        return True

    def release(self) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def __enter__(self) -> SQLiteWriteLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


_write_locks: dict[str, SQLiteWriteLock] = {}
_write_locks_guard = threading.Lock()


def sqlite_write_lock(path: str) -> SQLiteWriteLock:
    """The write lock of one SQLite file, shared by everything in this process."""
    key = os.path.realpath(path)
    with _write_locks_guard:
        lock = _write_locks.get(key)
        if lock is None:
            lock = _write_locks[key] = SQLiteWriteLock(key)
        return lock
