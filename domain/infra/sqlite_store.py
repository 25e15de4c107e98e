"""eventsourcing's SQLite persistence, with the connection settings syncledger wants.

WAL journal (eventsourcing's default) plus `synchronous` from SYNCLEDGER_SQLITE_SYNCHRONOUS
(default NORMAL: in WAL mode a crash of the process never loses a committed transaction;
only a power cut can lose the last ones — set FULL where that matters more than speed).
"""

from __future__ import annotations

import os
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import (
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, EnvType

from domain.infra.locks import sqlite_write_lock

SYNCHRONOUS_ENV = "SYNCLEDGER_SQLITE_SYNCHRONOUS"


class TunedSQLiteConnectionPool(SQLiteConnectionPool):
    def __init__(self, *, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name=db_name, **kwargs)
        if not self.is_sqlite_memory_mode:
            # eventsourcing holds this lock while a writer connection is out; ours has the
            # same acquire(timeout=)/release() shape but queues threads AND processes.
            self._writer_lock = sqlite_write_lock(db_name)  # type: ignore[assignment]

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        synchronous = os.environ.get(SYNCHRONOUS_ENV, "NORMAL").upper()
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            synchronous = "NORMAL"
        connection._sqlite_conn.execute(f"PRAGMA synchronous={synchronous}")
        return connection


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
