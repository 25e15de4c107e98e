"""Database.from_url: the URLs syncledger accepts and the ones it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.infra.database import DATABASE_URL_ENV, Database, DatabaseURLError


def test_sqlite_relative_path_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = Database.from_url("sqlite:///ledger.db")
    assert db.kind == "sqlite"
    assert db.path == str(tmp_path / "ledger.db")
    assert Path(db.path).is_absolute()


def test_sqlite_relative_subdirectory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    db = Database.from_url("sqlite:///data/ledger.db")
    assert db.path == str(tmp_path / "data" / "ledger.db")


def test_sqlite_absolute_path() -> None:
    db = Database.from_url("sqlite:////var/lib/syncledger/ledger.db")
    assert db.kind == "sqlite"
    assert db.path == "/var/lib/syncledger/ledger.db"
    env = db.eventsourcing_env()
    assert env["SQLITE_DBNAME"] == "/var/lib/syncledger/ledger.db"
    assert env["PERSISTENCE_MODULE"] == "domain.infra.sqlite_store:Factory"
    assert env["TRANSCODER_TOPIC"] == "domain.infra.transcoder:OrjsonTranscoder"


def test_postgresql_full_url() -> None:
    db = Database.from_url("postgresql://alice:s%40cret@db.example:6543/ledger?schema=tenant1")
    assert db.kind == "postgresql"
    assert (db.host, db.port, db.user, db.password, db.dbname, db.schema) == (
        "db.example",
        6543,
        "alice",
        "s@cret",
        "ledger",
        "tenant1",
    )
    assert db.conninfo == "host=db.example port=6543 dbname=ledger user=alice password=s@cret"
    env = db.eventsourcing_env()
    assert env["PERSISTENCE_MODULE"] == "domain.infra.pg_store:Factory"  # the guarded pool
    assert env["POSTGRES_SCHEMA"] == "tenant1"
    assert env["POSTGRES_PORT"] == "6543"


def test_postgresql_defaults() -> None:
    db = Database.from_url("postgresql://")
    assert (db.host, db.port, db.user, db.password, db.dbname, db.schema) == (
        "127.0.0.1",
        5432,
        "postgres",
        "",
        "postgres",
        "public",
    )
    assert "password" not in db.conninfo


def test_postgres_scheme_alias() -> None:
    db = Database.from_url("postgres://postgres@127.0.0.1:5432/test")
    assert db.kind == "postgresql"
    assert db.dbname == "test"


def test_default_url_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, f"sqlite:///{tmp_path}/env.db")
    assert Database.from_url().path == f"{tmp_path}/env.db"
    monkeypatch.delenv(DATABASE_URL_ENV)
    monkeypatch.chdir(tmp_path)
    assert Database.from_url().path == str(tmp_path / "syncledger.db")


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///",
        "sqlite:ledger.db",
        "sqlite://host/ledger.db",
        "mysql://root@localhost/db",
        "http://example.com",
        "ledger.db",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(DatabaseURLError) as info:
        Database.from_url(url)
    assert url in str(info.value)
    assert isinstance(info.value, ValueError)
