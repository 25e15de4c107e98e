"""Bearer tokens: created by the command line, shown once, stored only as a SHA-256 hash.

Tokens live in the table `api_tokens` of the ledger's own database (the SQLite file, or the
PostgreSQL schema). `verify` reads the table on every call, so a revocation takes effect at
once, in every process serving the API.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from domain.storage import Database

ROLES = ("worker", "support", "auditor")
MAX_TOKEN_NAME_LENGTH = 200
MAX_TOKEN_LENGTH = 200
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,199}$")


class TokenError(ValueError):
    """A refused token command (bad name or role, name already in use)."""


@dataclass(frozen=True)
class Principal:
    name: str
    role: str


@dataclass(frozen=True)
class TokenInfo:
    name: str
    role: str
    created_at: str
    revoked_at: str | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class TokenStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._lock = threading.RLock()
        self._ready = False
        self._pool: ConnectionPool | None = None
        if database.kind == "postgresql":
            self._table = f'"{database.schema}".api_tokens'
            self._p = "%s"
        else:
            self._table = "api_tokens"
            self._p = "?"

    # --- connections ---------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        if self.database.kind == "postgresql":
            with self._pg_pool().connection() as conn:
                yield conn
        else:
            conn = sqlite3.connect(self.database.path, timeout=30)
            try:
                with conn:
                    yield conn
            finally:
                conn.close()

    def _pg_pool(self) -> ConnectionPool:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ConnectionPool(
                        self.database.conninfo, min_size=1, max_size=4, open=True,
                        kwargs={"autocommit": False},
                    )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _ensure(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            try:
                self._create_table()
            except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable,
                    psycopg.errors.DuplicateObject):
                pass  # another process created it at the same moment
            self._ready = True

    def _create_table(self) -> None:
        with self._connect() as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self._table} ("
                "name TEXT PRIMARY KEY, role TEXT NOT NULL, token_hash TEXT NOT NULL, "
                "created_at TEXT NOT NULL, revoked_at TEXT)"
            )
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS api_tokens_hash ON {self._table} (token_hash)"
            )

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self._ensure()
        sql = sql.format(table=self._table, p=self._p)
        with self._connect() as conn:
            cursor = conn.execute(sql, params)
            rows = cursor.fetchall() if cursor.description else []
            return [tuple(r) for r in rows]

    # --- commands --------------------------------------------------------------------------

    def create(self, name: str, role: str) -> str:
        if not NAME_PATTERN.match(name or ""):
            raise TokenError(
                f"Token name {name!r} is not allowed: use 1 to {MAX_TOKEN_NAME_LENGTH} letters, "
                "digits or . _ @ : + - (starting with a letter or digit)."
            )
        if role not in ROLES:
            raise TokenError(f"Role {role!r} is unknown: use one of {', '.join(ROLES)}.")
        token = secrets.token_urlsafe(32)
        digest = hash_token(token)
        existing = self._execute("SELECT revoked_at FROM {table} WHERE name = {p}", (name,))
        if existing and existing[0][0] is None:
            raise TokenError(
                f"A token named {name!r} already exists; revoke it first "
                f"(syncledger tokens revoke {name}) or choose another name."
            )
        if existing:
            self._execute(
                "UPDATE {table} SET role = {p}, token_hash = {p}, created_at = {p}, "
                "revoked_at = NULL WHERE name = {p}",
                (role, digest, _now(), name),
            )
        else:
            self._execute(
                "INSERT INTO {table} (name, role, token_hash, created_at) "
                "VALUES ({p}, {p}, {p}, {p})",
                (name, role, digest, _now()),
            )
        return token

    def list(self) -> list[TokenInfo]:
        rows = self._execute(
            "SELECT name, role, created_at, revoked_at FROM {table} ORDER BY name"
        )
        return [TokenInfo(*row) for row in rows]

    def revoke(self, name: str) -> bool:
        found = self._execute(
            "SELECT name FROM {table} WHERE name = {p} AND revoked_at IS NULL", (name,)
        )
        if not found:
            return False
        self._execute(
            "UPDATE {table} SET revoked_at = {p} WHERE name = {p} AND revoked_at IS NULL",
            (_now(), name),
        )
        return True

    def verify(self, token: str) -> Principal | None:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        rows = self._execute(
            "SELECT name, role FROM {table} WHERE token_hash = {p} AND revoked_at IS NULL",
            (hash_token(token),),
        )
        if not rows:
            return None
        return Principal(name=rows[0][0], role=rows[0][1])
