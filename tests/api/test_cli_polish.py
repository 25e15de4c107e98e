"""The command line as scripts and people meet it (issue 15): JSON alone on stdout, `--out -`,
a clear line for an unreachable database, help without placeholders, runners that say so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
from typer.testing import CliRunner

from api.cli import app
from domain.infra.database import Database
from domain.ledger import Ledger
from domain.values import Context

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _history(database: Database) -> None:
    ledger = Ledger(database=database)
    ctx = Context.system("agent")
    rid = ledger.register(
        ctx,
        product="p",
        file_id="f",
        name="n",
        sync_interval_minutes=30,
        stuck_after_minutes=120,
    ).registration_id
    sid = ledger.start_session(ctx, rid, sync_type="time").session_id
    ledger.record_batch(ctx, rid, sid, [("invoice", "INV-1", "d1")])
    ledger.close()


def test_verify_json_is_alone_on_stdout(sqlite_database: Database) -> None:
    _history(sqlite_database)
    done = runner.invoke(app, ["--database-url", sqlite_database.url, "replay", "verify", "--json"])
    assert done.exit_code == 0, done.output
    assert orjson.loads(done.stdout)["ok"] is True  # `| jq .ok` works
    assert "NOT VERIFIED" in done.stderr  # the verdict goes to stderr (no checkpoint yet)


def test_export_to_stdout(sqlite_database: Database) -> None:
    _history(sqlite_database)
    url = ["--database-url", sqlite_database.url]
    done = runner.invoke(app, [*url, "replay", "export", "--out", "-"])
    assert done.exit_code == 0, done.output
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    rows = [line for line in lines if "position" in line]  # not the signed-checkpoint trailer
    assert [row["position"] for row in rows] == list(range(1, len(rows) + 1))
    assert len(rows) >= 4 and "wrote" in done.stderr
    assert not Path("-").exists()


def test_unreachable_database_is_one_clear_line_quickly() -> None:
    url = "postgresql://postgres@127.0.0.1:1/nowhere"
    started = time.monotonic()
    for command in (["tokens", "list"], ["replay", "verify", "--json"], ["demo"]):
        done = runner.invoke(app, ["--database-url", url, *command])
        assert done.exit_code == 1, (command, done.output)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(" ".join(lines)) < 300 and "cannot reach the PostgreSQL database" in lines[0]
        assert done.stdout == ""
    assert time.monotonic() - started < 15


def _commands() -> list[tuple[str, ...]]:
    """Every command and group of `syncledger`, as argument prefixes."""
    import typer.main

    found: list[tuple[str, ...]] = []

    def walk(command: object, prefix: tuple[str, ...]) -> None:
        found.append(prefix)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*prefix, name))

    walk(typer.main.get_command(app), ())
    return found


def test_help_shows_no_placeholders() -> None:
    commands = _commands()
    assert ("replay", "undo") in commands and ("tokens", "create") in commands
    for command in commands:
        shown = runner.invoke(app, [*command, "--help"], terminal_width=200)
        assert shown.exit_code == 0, (command, shown.output)
        assert "{" not in shown.stdout and "<bool>" not in shown.stdout, (command, shown.stdout)


def test_projections_run_says_when_it_starts_and_stops(tmp_path: Path) -> None:
    env = dict(os.environ, SYNCLEDGER_DATABASE_URL=f"sqlite:///{tmp_path}/runner.db")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from api.cli import main; main()", "projections", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()
    assert "projection runners: following the sqlite log" in first, first
    proc.send_signal(signal.SIGTERM)
    out, rest = proc.communicate(timeout=30)
    assert proc.returncode == 0, rest
    assert "projection runners: stopped" in rest
