"""What a database fault means for a caller: unavailable, full, or a commit of unknown outcome.

Every layer (the Ledger, the views, the tokens, the tiles) reaches the database through a
driver that reports faults its own way: psycopg and sqlite3 exceptions, psycopg_pool's
timeouts, eventsourcing's wrappers of both. `classify` turns any of them into one of three
answers the API gives as 503 with Retry-After (docs/api.md), so a fault of the database is
never a 500 and never a long wait (docs/design.md, "Notifications and operations").
"""

from __future__ import annotations

import sqlite3

import psycopg
from psycopg import errors as pg_errors

UNAVAILABLE = "database_unavailable"
FULL = "storage_full"
COMMIT_UNKNOWN = "commit_unknown"

# How long a client should wait before retrying (the Retry-After header): the pools notice a
# returning database on their next connection attempt, within about two seconds.
RETRY_AFTER_S = 5

# SQLite's primary result codes for a full disk / page limit and for a file it cannot use.
_SQLITE_FULL = 13
_SQLITE_UNAVAILABLE = {5, 6, 10, 14, 26}  # BUSY, LOCKED, IOERR, CANTOPEN, NOTADB


class DatabaseFault(Exception):
    """A database fault already classified: `code` is one of the three answers above."""

    code = UNAVAILABLE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DatabaseUnavailable(DatabaseFault):
    """No connection could be had (the server is down, unreachable or refusing)."""

    code = UNAVAILABLE


class CommitUnknown(DatabaseFault):
    """The connection was lost while a write was being committed: it may or may not be
    recorded. Not retried blindly: the client reads (or repeats an idempotent request)."""

    code = COMMIT_UNKNOWN


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def classify(exc: BaseException) -> str | None:
    """The answer for a database fault anywhere in `exc`'s chain; None when it is not one
    (a programming error stays a 500, with its traceback in the log)."""
    for item in _chain(exc):
        if isinstance(item, DatabaseFault):
            return item.code
        if isinstance(item, psycopg.Error):
            sqlstate = item.sqlstate or ""
            # Class 53, insufficient resources: disk full, out of memory, a configuration
            # limit. Too many connections (53300) is the server refusing us: unavailable.
            if sqlstate.startswith("53") and sqlstate != "53300":
                return FULL
            if isinstance(item, psycopg.OperationalError | psycopg.InterfaceError):
                if isinstance(item, pg_errors.LockNotAvailable | pg_errors.QueryCanceled):
                    return None  # a statement's own timeout, not an outage
                return UNAVAILABLE
            if sqlstate.startswith(("08", "57P")):  # connection exception, shutdown
                return UNAVAILABLE
        if isinstance(item, sqlite3.Error):
            code = getattr(item, "sqlite_errorcode", None)
            primary = code & 0xFF if isinstance(code, int) else None
            if primary == _SQLITE_FULL:
                return FULL
            if primary in _SQLITE_UNAVAILABLE:
                return UNAVAILABLE
    return None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (psycopg's run over several)."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def describe(code: str, kind: str) -> str:
    """A message a person can act on, for each answer."""
    name = "PostgreSQL" if kind == "postgresql" else "SQLite"
    if code == FULL:
        return (
            f"The {name} database is out of space; nothing was recorded. Free disk space "
            f"(or raise the limit), then retry after {RETRY_AFTER_S} seconds."
        )
    if code == COMMIT_UNKNOWN:
        return (
            f"The connection to the {name} database was lost while this write was being "
            "committed: it may or may not have been recorded. Read the resource to find "
            "out (a repeated request with the same ids is answered as a repeat)."
        )
    return (
        f"The {name} database cannot be reached; nothing was recorded. The service "
        f"reconnects by itself: retry after {RETRY_AFTER_S} seconds."
    )
