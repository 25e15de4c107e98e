"""Bearer tokens: created by the command line, shown once, stored only as a SHA-256 hash.

Tokens live in the table `api_tokens` of the ledger's own database (the SQLite file, or the
PostgreSQL schema). `verify` reads the table (SQLite: one indexed lookup on a connection kept
open per thread) or, on PostgreSQL, what it read before while a LISTEN connection watches
for changes (api/token_cache.py): either way a revocation takes effect at once, in every
process serving the API.

Worker scope (DESIGN.md roles: a worker reads *its* registrations): `api_token_registrations
(token_name, registration_id)` holds the registrations each worker token may reach; the API
answers a worker token's request about any other registration with 404. Who may reach one is
decided by the domain (rule 13: the holder and the grants, domain/access.py); these rows are
its copy for the per-request lookup, written in the same transaction as the events that
decide it (`claim_write`, `release_write`). The rows are keyed by token name, so a rotated
token (revoked, then created again under the same name) keeps its registrations.
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
from uuid import UUID

import psycopg

from api.token_cache import TokenCache, trigger_statements
from domain.infra.database import Database
from domain.infra.locks import sqlite_write_lock
from domain.infra.pgpool import GuardedPool, acquire_shared, release_shared
from domain.infra.recorders import SideWrite

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
        self._pool: GuardedPool | None = None
        self._local = threading.local()
        self._sqlite_conns: list[sqlite3.Connection] = []
        if database.kind == "postgresql":
            self._table = f'"{database.schema}".api_tokens'
            self._held = f'"{database.schema}".api_token_registrations'
            self._sessions = f'"{database.schema}".console_sessions'
            self._p = "%s"
        else:
            self._table = "api_tokens"
            self._held = "api_token_registrations"
            self._sessions = "console_sessions"
            self._p = "?"
        self._cache: TokenCache | None = None
        self._verify_sql = (
            f"SELECT t.name, t.role, EXISTS (SELECT 1 FROM {self._held} h "
            f"WHERE h.token_name = t.name AND h.registration_id = {self._p}) "
            f"FROM {self._table} t WHERE t.token_hash = {self._p} AND t.revoked_at IS NULL"
        )

    # --- connections ---------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        """A connection in autocommit mode: every statement here stands alone."""
        if self.database.kind == "postgresql":
            with self._pg_pool().connection() as conn:
                yield conn
        else:
            yield self._sqlite()

    def _sqlite(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.database.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._local.conn = conn
            with self._lock:
                self._sqlite_conns.append(conn)
        return conn

    def _pg_pool(self) -> GuardedPool:
        """The process's shared pool for the schema (autocommit; domain/infra/pgpool.py)."""
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = acquire_shared(self.database)
        return self._pool

    def close(self) -> None:
        with self._lock:
            if self._cache is not None:
                self._cache.close()
                self._cache = None
            if self._pool is not None:
                self._pool = None
                release_shared(self.database)
            conns, self._sqlite_conns = self._sqlite_conns, []
            self._local = threading.local()
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def _ensure(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            self._create_tables()
            self._ready = True

    def _create_tables(self) -> None:
        """Each statement on its own (autocommit): when another process creates a table at
        the same moment (PostgreSQL's IF NOT EXISTS can still collide), the others still run."""
        statements: tuple[str, ...] = (
            f"CREATE TABLE IF NOT EXISTS {self._table} ("
            "name TEXT PRIMARY KEY, role TEXT NOT NULL, token_hash TEXT NOT NULL, "
            "created_at TEXT NOT NULL, revoked_at TEXT)",
            f"CREATE INDEX IF NOT EXISTS api_tokens_hash ON {self._table} (token_hash)",
            f"CREATE TABLE IF NOT EXISTS {self._held} ("
            "token_name TEXT NOT NULL, registration_id TEXT NOT NULL, "
            "PRIMARY KEY (token_name, registration_id))",
            # The console's sign-in sessions (api/console_sessions.py): the id's hash only.
            f"CREATE TABLE IF NOT EXISTS {self._sessions} ("
            "id_hash TEXT PRIMARY KEY, token_hash TEXT NOT NULL, created_at BIGINT NOT NULL, "
            "last_seen_at BIGINT NOT NULL, ended_at BIGINT)",
            f"CREATE INDEX IF NOT EXISTS console_sessions_token ON {self._sessions} (token_hash)",
        )
        if self.database.kind == "postgresql":  # the cache's change notices (token_cache.py)
            statements += trigger_statements(self.database.schema, self._table, self._held)
        for sql in statements:
            try:
                with self._connect() as conn:
                    conn.execute(sql)
            except (
                psycopg.errors.UniqueViolation,
                psycopg.errors.DuplicateTable,
                psycopg.errors.DuplicateObject,
                psycopg.errors.InternalError_,  # "tuple concurrently updated": a trigger too
            ):
                pass  # another process created it at the same moment

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """One statement on this store's tables: `{table}` (tokens), `{sessions}` (console
        sessions) and `{p}` (the placeholder) are filled in."""
        return self._execute(sql, params)

    def write(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        """`execute` for a small write: on SQLite it queues on the file's write lock like
        every other writer (see `claim`)."""
        if self.database.kind == "sqlite":
            with sqlite_write_lock(self.database.path):
                self._execute(sql, params)
            return
        self._execute(sql, params)

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self._ensure()
        sql = sql.format(table=self._table, sessions=self._sessions, p=self._p)
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

    def list_tokens(self) -> list[TokenInfo]:
        rows = self._execute("SELECT name, role, created_at, revoked_at FROM {table} ORDER BY name")
        return [TokenInfo(*row) for row in rows]

    def revoke(self, name: str) -> bool:
        found = self._execute(
            "SELECT name FROM {table} WHERE name = {p} AND revoked_at IS NULL", (name,)
        )
        if not found:
            return False
        # Its console sessions end with it (they would find no token anyway; this puts the
        # end on the record).
        self.write(
            "UPDATE {sessions} SET ended_at = {p} WHERE ended_at IS NULL AND token_hash = "
            "(SELECT token_hash FROM {table} WHERE name = {p})",
            (int(datetime.now(UTC).timestamp() * 1_000_000), name),
        )
        self._execute(
            "UPDATE {table} SET revoked_at = {p} WHERE name = {p} AND revoked_at IS NULL",
            (_now(), name),
        )
        self.forget_cached()
        return True

    def verify(self, token: str) -> Principal | None:
        found = self.verify_for(token, None)
        return None if found is None else found[0]

    def forget_cached(self) -> None:
        """Forget every verified token at once (after a change made by this process; other
        processes hear of it through the tables' triggers)."""
        if self._cache is not None:
            self._cache.forget()

    def cached(self, token: str, rid: str | None) -> tuple[Principal, bool] | None:
        """`verify_for` from memory when it can answer without the database (PostgreSQL,
        api/token_cache.py); None: ask `verify_for`."""
        if self._cache is None or not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        return self._cache.get(hash_token(token), rid)

    def verify_for(self, token: str, rid: str | None) -> tuple[Principal, bool] | None:
        """The token's principal and whether it holds registration `rid`, in one lookup."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        self._ensure()
        digest = hash_token(token)
        cache = self._token_cache()
        if cache is not None:
            found = cache.get(digest, rid)
            if found is not None:
                return found
        generation = cache.generation() if cache is not None else 0
        with self._connect() as conn:
            row = conn.execute(self._verify_sql, (rid or "", digest)).fetchone()
        if row is None:
            return None
        principal, holds = Principal(name=row[0], role=row[1]), bool(row[2])
        if cache is not None:
            cache.put(digest, rid, principal, holds, generation)
        return principal, holds

    def cache_ready(self, timeout: float) -> bool:
        """Wait until verified tokens can be answered from memory (PostgreSQL: the cache
        listens for changes); True at once on SQLite, which has no cache."""
        cache = self._token_cache()
        return True if cache is None else cache.wait_listening(timeout)

    def change_mark(self) -> int:
        """A mark to pass to `await_change_notice` before changing tokens elsewhere."""
        cache = self._cache
        return cache.generation() if cache is not None else 0

    def await_change_notice(self, mark: int, timeout: float) -> bool:
        """Wait until this store's cache has heard of a change since `mark` (another
        process revoked a token or a grant); True at once without a cache (SQLite)."""
        cache = self._cache
        return True if cache is None else cache.wait_past(mark, timeout)

    def note_held(self, name: str, rid: str, mark: int) -> None:
        """This process committed worker `name`'s claim on `rid` (a register) after
        `change_mark()` gave `mark`: the worker's next request on it is answered from
        memory (PostgreSQL: the verify query was one of a session start's two round trips,
        issue 16). A change since `mark` leaves it to the query."""
        if self._cache is not None:
            self._cache.hold(name, rid, mark)

    def _token_cache(self) -> TokenCache | None:
        if self.database.kind != "postgresql":
            return None
        if self._cache is None:
            with self._lock:
                if self._cache is None:
                    self._cache = TokenCache(self.database.conninfo, self.database.schema)
        return self._cache

    # --- worker scope ----------------------------------------------------------------------

    def claim_write(self, name: str, rid: UUID) -> SideWrite:
        """The claim as a row to commit with the register's own event (one transaction)."""
        self._ensure()
        return SideWrite(
            f"INSERT INTO {self._held} (token_name, registration_id) VALUES (?, ?) "
            "ON CONFLICT DO NOTHING",
            (name, str(rid)),
        )

    def release_write(self, name: str, rid: UUID) -> SideWrite:
        """A grant taken back, as a row to delete with the AccessRevoked event."""
        self._ensure()
        return SideWrite(
            f"DELETE FROM {self._held} WHERE token_name = ? AND registration_id = ?",
            (name, str(rid)),
        )

    def role_of(self, name: str) -> str | None:
        """The role of the token named `name` (revoked or not), None if there is none."""
        rows = self._execute("SELECT role FROM {table} WHERE name = {p}", (name,))
        return str(rows[0][0]) if rows else None

    def claim(self, name: str, rid: str) -> None:
        """Token `name` holds registration `rid` (it registered it); idempotent.

        On SQLite the insert queues on the file's write lock like every other writer: on
        its own it would meet the runner's page transaction (which each register sets off)
        and sleep in SQLite's busy back-off, which was ~40% of a register's time. A
        registration the token already holds (a repeated register) needs no write at all.
        """
        if self.database.kind == "sqlite":
            if self.holds(name, rid):
                return
            with sqlite_write_lock(self.database.path):
                self._insert_claim(name, rid)
            return
        self._insert_claim(name, rid)

    def _insert_claim(self, name: str, rid: str) -> None:
        self._execute(
            f"INSERT INTO {self._held} (token_name, registration_id) VALUES ({{p}}, {{p}}) "
            "ON CONFLICT DO NOTHING",
            (name, rid),
        )

    def holds(self, name: str, rid: str) -> bool:
        return bool(
            self._execute(
                f"SELECT 1 FROM {self._held} WHERE token_name = {{p}} AND registration_id = {{p}}",
                (name, rid),
            )
        )

    def held(self, name: str) -> list[str]:
        """Every registration id token `name` holds."""
        rows = self._execute(
            f"SELECT registration_id FROM {self._held} WHERE token_name = {{p}} "
            "ORDER BY registration_id",
            (name,),
        )
        return [row[0] for row in rows]
