"""eventsourcing's SQLite persistence, with the connection settings syncledger wants.

WAL journal (eventsourcing's default) plus `synchronous` from SYNCLEDGER_SQLITE_SYNCHRONOUS
(default NORMAL: in WAL mode a crash of the process never loses a committed transaction;
only a power cut can lose the last ones — set FULL where that matters more than speed).
"""

from __future__ import annotations

import os
from typing import Any

from eventsourcing.persistence import (
    ConnectionNotFromPoolError,
    ConnectionUnavailableError,
    Tracking,
)
from eventsourcing.sqlite import (
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, EnvType

from domain.infra.locks import WouldBlock, sqlite_write_lock, waiting_allowed

SYNCHRONOUS_ENV = "SYNCLEDGER_SQLITE_SYNCHRONOUS"


class TunedSQLiteConnectionPool(SQLiteConnectionPool):
    def __init__(self, *, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name=db_name, **kwargs)
        if not self.is_sqlite_memory_mode:
            # eventsourcing holds this lock while a writer connection is out; ours has the
            # same acquire(timeout=)/release() shape but queues threads AND processes.
            self._writer_lock = sqlite_write_lock(db_name)  # type: ignore[assignment]

    def get_connection(
        self, timeout: float | None = None, *, is_writer: bool | None = None
    ) -> SQLiteConnection:
        if waiting_allowed():
            return super().get_connection(timeout, is_writer=is_writer)
        # Under no_waiting() (api/inline.py): a connection now or WouldBlock, never a wait
        # for the pool's queue, its writer or a free connection.
        try:
            return super().get_connection(0.0, is_writer=is_writer)
        except ConnectionUnavailableError as exc:
            raise WouldBlock(str(exc)) from exc

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        synchronous = os.environ.get(SYNCHRONOUS_ENV, "NORMAL").upper()
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            synchronous = "NORMAL"
        connection._sqlite_conn.execute(f"PRAGMA synchronous={synchronous}")
        return connection

    def close(self) -> None:
        """Close the idle connections now, and each one in use when its thread returns it.

        eventsourcing's pool closes connections that other threads are still executing on.
        CPython's sqlite3 does not guard a connection against `close()` from one thread while
        another is inside `execute()` on it (check_same_thread=False): the reader then works
        on freed memory and the interpreter crashes (a segfault in sqlite3 execute, seen when
        a pool was closed while reader threads were still reading). A connection is only ever
        closed by the thread using it, or while nobody uses it.
        """
        with self._put_condition:
            if self._closed:
                return
            for conn in self._in_use.values():
                conn._closing.set()
            while self._pool:
                self._pool.popleft().close()
            self._closed = True

    def put_connection(self, conn: SQLiteConnection) -> None:
        with self._put_condition:  # a reentrant lock: the library's method takes it again
            if not self._closed:
                super().put_connection(conn)
                return
            # Returned after close(): closed here, by its own thread. The write lock is
            # released as on an open pool — it is shared by every pool on the file in this
            # process, so keeping it would stop all other writers.
            is_writer, conn.is_writer = conn.is_writer, None
            if self._in_use.pop(id(conn), None) is None:
                raise ConnectionNotFromPoolError("Connection not in use in this pool")
            conn.close()
            conn.in_use.release()
            if is_writer is True:
                self._num_writers -= 1
                self._writer_lock.release()
            elif is_writer is False:
                with self._no_readers:
                    self._num_readers -= 1
            self._put_condition.notify_all()


class TunedSQLiteDatastore(SQLiteDatastore):
    def __init__(self, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name, **kwargs)
        self.pool.close()
        self.pool = TunedSQLiteConnectionPool(
            db_name=db_name,
            lock_timeout=kwargs.get("lock_timeout"),
            pool_size=kwargs.get("pool_size", 5),
            max_overflow=kwargs.get("max_overflow", 10),
            pool_timeout=kwargs.get("pool_timeout", 30.0),
        )


class Factory(SQLiteFactory):
    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        old = self.datastore
        self.datastore = TunedSQLiteDatastore(
            db_name=old.pool.db_name,
            lock_timeout=old.pool.lock_timeout,
            single_row_tracking=old.single_row_tracking,
            originator_id_type=old.originator_id_type,
        )
        old.close()


__all__ = ["Factory", "Tracking"]
