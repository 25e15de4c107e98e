from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import replay_tamper as tamper
from replay_history import CTX, build_history
from typer.testing import CliRunner

from domain import Database, Ledger
from replay.chain import ChainFollower
from replay.cli import app

runner = CliRunner()


def invoke(database: Database, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--database-url", database.url, *args])


def test_verify_export_and_tamper(database: Database, tmp_path: Path) -> None:
    ledger = Ledger(database=database)
    build_history(ledger, steps=20)
    ChainFollower(database).advance()
    ok = invoke(database, "verify", "--json")
    assert ok.exit_code == 0, ok.output
    report = orjson.loads(ok.stdout[: ok.stdout.rindex("}") + 1])
    kept = f"{report['head']['digest']}@{report['head']['position']}"
    assert invoke(database, "verify", "--digest", kept).exit_code == 0
    assert invoke(database, "verify", "--digest", "nothex@3").exit_code == 2

    out = tmp_path / "all.csv"
    exported = invoke(database, "export", "--out", str(out), "--format", "csv")
    assert exported.exit_code == 0, exported.output
    assert out.read_text().startswith("position,")
    assert invoke(database, "export", "--out", str(out), "--format", "xml").exit_code == 2

    tamper.modify(database, 4)
    broken = invoke(database, "verify")
    assert broken.exit_code == 1
    assert "position 4" in broken.stderr


def test_as_of_and_undo(database: Database) -> None:
    ledger = Ledger(database=database)
    rid = ledger.register(CTX, product="p", file_id="f").registration_id
    sid = ledger.start_session(CTX, rid, sync_type="time").session_id
    before = ledger.current_position()
    deleted = ledger.delete_session(CTX, rid, sid, reason="stuck")
    shown = invoke(database, "as-of", str(rid), "--position", str(before), "--json")
    assert shown.exit_code == 0, shown.output
    [item] = orjson.loads(shown.stdout)["items"]
    assert item["id"] == sid and item["deleted"] is None
    table = invoke(database, "as-of", str(rid), "--at", "2999-01-01T00:00:00Z")
    assert table.exit_code == 0 and "alice" in table.stdout
    assert invoke(database, "as-of", str(rid)).exit_code == 2
    assert invoke(database, "as-of", "not-a-uuid", "--position", "1").exit_code == 2

    undone = invoke(database, "undo", str(deleted.position), "--reason", "mistake")
    assert undone.exit_code == 0, undone.output
    assert Ledger(database=database).get_session(rid, sid).deleted is None
    again = invoke(database, "undo", str(deleted.position), "--reason", "again")
    assert again.exit_code == 1 and "not_undoable" in again.stderr
    assert invoke(database, "undo", "1", "--reason", "x").exit_code == 1
    assert invoke(database, "undo", "1").exit_code == 2


@pytest.mark.parametrize("url", ["mysql://x", "sqlite://"])
def test_bad_database_url_is_a_usage_error(url: str) -> None:
    result = runner.invoke(app, ["--database-url", url, "verify"])
    assert result.exit_code == 2


def test_unsynced_reads_back_what_a_deletion_unsynced(sqlite_database: Database) -> None:
    ledger = Ledger(database=sqlite_database)
    try:
        rid = ledger.register(CTX, product="p", file_id="u").registration_id
        sid = ledger.start_session(CTX, rid, sync_type="time").session_id
        ledger.record_batch(CTX, rid, sid, [["A", "1", "x"], ["A", "2", "y"]])
        deleted = ledger.delete_session(CTX, rid, sid, reason="r", override=True, ticket="T")
    finally:
        ledger.close()
    result = invoke(sqlite_database, "unsynced", str(deleted.position))
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [(r["key"], r["digest"]) for r in lines] == [("1", "x"), ("2", "y")]
    assert invoke(sqlite_database, "unsynced", "1").exit_code == 2
