"""Backend fixtures: every storage test runs on SQLite and on the real PostgreSQL server.

PostgreSQL is reached at SYNCLEDGER_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test).
Each test gets a fresh schema. Without a reachable server the PostgreSQL cases are skipped
with a visible reason, unless SYNCLEDGER_REQUIRE_POSTGRES=1 (as in .ci/run), which fails them.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from domain.infra.database import Database

# Checkpoints are signed with a key file outside the database (created on first use): keep
# the tests' key out of the working tree.
os.environ.setdefault(
    "SYNCLEDGER_SIGNING_KEY",
    str(Path(tempfile.mkdtemp(prefix="syncledger-test-key-")) / "signing.key"),
)

PG_URL = os.environ.get("SYNCLEDGER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("SYNCLEDGER_REQUIRE_POSTGRES") == "1"
_pg_state: dict[str, object] = {}


def postgres_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    if "error" not in _pg_state:
        try:
            with psycopg.connect(Database.from_url(PG_URL).conninfo, connect_timeout=3):
                _pg_state["error"] = None
        except psycopg.Error as e:
            _pg_state["error"] = f"PostgreSQL not reachable at {PG_URL}: {e}".strip()
    return _pg_state["error"]  # type: ignore[return-value]


def make_database(kind: str, tmp_path: Path) -> Iterator[Database]:
    if kind == "sqlite":
        yield Database.from_url(f"sqlite:///{tmp_path / 'ledger.db'}")
        return
    error = postgres_available()
    if error:
        if REQUIRE_PG:
            pytest.fail(error)
        pytest.skip(error)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    base = Database.from_url(PG_URL)
    with psycopg.connect(base.conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    # libpq names every connection opened while the test runs (in this process, its threads
    # and the servers it spawns) after the test's schema, so the teardown can end the ones
    # a pool the test never closed still holds: without it one run of the suite climbs past
    # a stock server's 100 connections.
    previous = os.environ.get("PGAPPNAME")
    os.environ["PGAPPNAME"] = schema
    try:
        yield Database.from_url(f"{PG_URL}{sep}schema={schema}")
    finally:
        if previous is None:
            os.environ.pop("PGAPPNAME", None)
        else:
            os.environ["PGAPPNAME"] = previous
        with psycopg.connect(base.conninfo, autocommit=True, application_name="teardown") as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                (schema,),
            )
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(autouse=True)
def close_ledgers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every Ledger a test opens is closed when the test ends, whether the test closed it or
    not: its pool's connections and threads go with it (the teardown below only ends the
    connections). Ledgers of module-scoped fixtures are made before this runs: not touched."""
    from domain.unit_of_work import UnitOfWork

    opened: list[UnitOfWork] = []
    init = UnitOfWork.__init__

    def tracked(self: UnitOfWork, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(UnitOfWork, "__init__", tracked)
    yield
    for ledger in opened:
        try:
            ledger.close()
        except Exception:  # noqa: BLE001 - already closed, or its database already dropped
            pass


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh, empty database on each backend."""
    yield from make_database(request.param, tmp_path)


@pytest.fixture
def ledgers(database: Database) -> Iterator[tuple[Any, Any]]:
    """Two Ledgers on one database: two processes writing the same log, each with its own
    cache (races, and writes behind another process's back)."""
    from domain.ledger import Ledger

    first, second = Ledger(database=database), Ledger(database=database)
    yield first, second
    first.close()
    second.close()


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    yield from make_database("sqlite", tmp_path)


@pytest.fixture
def postgres_database(tmp_path: Path) -> Iterator[Database]:
    yield from make_database("postgresql", tmp_path)


def pytest_report_header(config: pytest.Config) -> str:
    error = postgres_available()
    if error:
        verdict = (
            "REQUIRED -> PostgreSQL tests will FAIL" if REQUIRE_PG else "PostgreSQL tests SKIPPED"
        )
        return f"syncledger: {error} ({verdict})"
    return f"syncledger: PostgreSQL tests run against {PG_URL}"
