"""Where the event log lives: an SQLite file by default, PostgreSQL from a URL."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_DATABASE_URL = "sqlite:///syncledger.db"
DATABASE_URL_ENV = "SYNCLEDGER_DATABASE_URL"


class DatabaseURLError(ValueError):
    pass


@dataclass(frozen=True)
class Database:
    """A parsed database URL: `sqlite:///relative.db`, `sqlite:////abs.db`, `postgresql://…`."""

    url: str
    kind: str  # "sqlite" | "postgresql"
    path: str = ""
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""
    schema: str = ""

    @classmethod
    def from_url(cls, url: str | None = None) -> Database:
        url = url or os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL
        parts = urlsplit(url)
        if parts.scheme == "sqlite":
            raw = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
            if not raw:
                raise DatabaseURLError(
                    f"SQLite URL {url!r} names no file: use sqlite:///relative.db "
                    "or sqlite:////absolute/path.db"
                )
            return cls(url=url, kind="sqlite", path=str(Path(raw).absolute()))
        if parts.scheme in ("postgresql", "postgres"):
            query = parse_qs(parts.query)
            return cls(
                url=url,
                kind="postgresql",
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 5432,
                user=unquote(parts.username or "postgres"),
                password=unquote(parts.password or ""),
                dbname=(parts.path or "/").lstrip("/") or "postgres",
                schema=(query.get("schema") or ["public"])[0],
            )
        raise DatabaseURLError(
            f"Unsupported database URL {url!r}: use sqlite:///file.db or "
            "postgresql://user:pass@host:port/db"
        )

    @property
    def conninfo(self) -> str:
        """psycopg connection string (PostgreSQL only)."""
        parts = [f"host={self.host}", f"port={self.port}", f"dbname={self.dbname}"]
        if self.user:
            parts.append(f"user={self.user}")
        if self.password:
            parts.append(f"password={self.password}")
        return " ".join(parts)

    def eventsourcing_env(self) -> dict[str, str]:
        """Environment for eventsourcing's infrastructure factories."""
        env = {"TRANSCODER_TOPIC": "domain.transcoder:OrjsonTranscoder"}
        if self.kind == "sqlite":
            env.update(
                PERSISTENCE_MODULE="domain.sqlite_store:Factory",
                SQLITE_DBNAME=self.path,
                SQLITE_LOCK_TIMEOUT="30",
            )
        else:
            env.update(
                PERSISTENCE_MODULE="eventsourcing.postgres",
                POSTGRES_DBNAME=self.dbname,
                POSTGRES_HOST=self.host,
                POSTGRES_PORT=str(self.port),
                POSTGRES_USER=self.user,
                POSTGRES_PASSWORD=self.password,
                POSTGRES_SCHEMA=self.schema,
                POSTGRES_POOL_SIZE="5",
                POSTGRES_MAX_OVERFLOW="10",
                POSTGRES_LOCK_TIMEOUT="10",
                POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT="30",
            )
        return env


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

    with psycopg.connect(database.conninfo, autocommit=True) as conn:
        key = f"syncledger-schema:{database.schema}"
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))


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
        if not self._threads.acquire(blocking, timeout):
            return False
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
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
