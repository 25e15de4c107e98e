"""The command line: tokens, demo, exit codes."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from api.auth import TokenStore
from api.cli import app
from domain.infra.database import Database
from domain.ledger import Ledger

runner = CliRunner()


def test_tokens_create_list_revoke(database: Database) -> None:
    url = ["--database-url", database.url]
    done = runner.invoke(app, [*url, "tokens", "create", "alice", "--role", "support"])
    assert done.exit_code == 0, done.output
    token = done.stdout.strip().splitlines()[-1]
    store = TokenStore(database)
    assert store.verify(token) is not None and store.verify(token).role == "support"  # type: ignore[union-attr]
    again = runner.invoke(app, [*url, "tokens", "create", "alice", "--role", "worker"])
    assert again.exit_code == 1 and "already exists" in again.stderr
    bad_role = runner.invoke(app, [*url, "tokens", "create", "bob", "--role", "boss"])
    assert bad_role.exit_code == 2
    listed = runner.invoke(app, [*url, "tokens", "list"])
    assert listed.exit_code == 0 and "alice" in listed.stdout and token not in listed.stdout
    mark = store.change_mark()
    assert runner.invoke(app, [*url, "tokens", "revoke", "alice"]).exit_code == 0
    # PostgreSQL: this store's cache hears of the revocation (api/token_cache.py).
    assert store.await_change_notice(mark, 10)
    assert store.verify(token) is None
    missing = runner.invoke(app, [*url, "tokens", "revoke", "alice"])
    assert missing.exit_code == 1 and "no active token" in missing.stderr
    store.close()


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["tokens", "create"]).exit_code == 2
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2
    bad = runner.invoke(app, ["--database-url", "mysql://x", "tokens", "list"])
    assert bad.exit_code == 2 and "Unsupported database URL" in bad.stderr


def test_demo(sqlite_database: Database) -> None:
    url = ["--database-url", sqlite_database.url]
    done = runner.invoke(app, [*url, "demo", "--sessions", "12"])
    assert done.exit_code == 0, done.output
    assert "stuck session" in done.stdout
    ledger = Ledger(database=sqlite_database)
    assert ledger.current_position() > 100
    ledger.close()
    again = runner.invoke(app, [*url, "demo", "--sessions", "12"])
    assert again.exit_code == 1 and "already holds" in again.stderr
