from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import replay_tamper as tamper
from replay_history import CTX, build_history
from typer.testing import CliRunner

from domain import Database, Ledger
from replay.cli import app

runner = CliRunner()


def invoke(database: Database, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--database-url", database.url, *args])


def root_invoke(database: Database, *args: str):  # type: ignore[no-untyped-def]
    from api.cli import app as root

    return runner.invoke(root, ["--database-url", database.url, *args])


def test_verify_export_and_tamper(database: Database, tmp_path: Path) -> None:
    ledger = Ledger(database=database)
    build_history(ledger, steps=20)
    ok = invoke(database, "verify", "--json")
    assert ok.exit_code == 0, ok.output
    report = orjson.loads(ok.stdout)  # --json: the JSON alone on standard output
    assert "cannot be detected" in report["limits"]  # no checkpoint anywhere yet
    kept = f"{report['head']['digest']}@{report['head']['position']}"
    assert invoke(database, "verify", "--digest", kept).exit_code == 0
    assert invoke(database, "verify", "--digest", "nothex@3").exit_code == 2

    checkpoint = tmp_path / "kept.checkpoint"
    made = root_invoke(database, "log", "checkpoint", "--out", str(checkpoint))
    assert made.exit_code == 0, made.output
    out = tmp_path / "all.csv"
    exported = invoke(database, "export", "--out", str(out), "--format", "csv")
    assert exported.exit_code == 0, exported.output
    assert out.read_text().startswith("position,")
    assert invoke(database, "export", "--out", str(out), "--format", "xml").exit_code == 2
    good = invoke(database, "verify", "--checkpoint", str(checkpoint))
    assert good.exit_code == 0, good.output
    assert "equals the checkpoint" in good.stdout
    assert invoke(database, "verify", "--checkpoint", str(tmp_path / "none")).exit_code == 2

    tamper.modify(database, 4)
    broken = invoke(database, "verify", "--checkpoint", str(checkpoint))
    assert broken.exit_code == 1
    assert "do not match the checkpoint" in broken.stderr
    named = invoke(database, "verify", "--against", str(out), "--json")
    assert named.exit_code == 1
    assert orjson.loads(named.stdout)["first_bad_position"] == 4
    assert "position 4" in named.stderr


def test_log_and_keys_commands(database: Database, tmp_path: Path) -> None:
    ledger = Ledger(database=database)
    build_history(ledger, steps=10)
    head = ledger.current_position()
    shown = root_invoke(database, "log", "checkpoint", "--json")
    assert shown.exit_code == 0, shown.output
    cp = orjson.loads(shown.stdout)
    assert cp["tree_size"] == head and "\n\n\u2014 " in cp["note"]
    proved = root_invoke(database, "log", "prove", "3", "--json")
    assert proved.exit_code == 0, proved.output
    assert orjson.loads(proved.stdout)["verified"] is True
    note = tmp_path / "cp.txt"
    note.write_text(cp["note"])
    assert root_invoke(database, "log", "prove", "3", "--checkpoint", str(note)).exit_code == 0
    assert root_invoke(database, "log", "prove", "999", "--checkpoint", str(note)).exit_code == 1
    stranger = tmp_path / "stranger.key"
    created = root_invoke(database, "keys", "create", "--out", str(stranger), "--name", "x/y")
    assert created.exit_code == 0, created.output
    verifier = created.stdout.strip().splitlines()[-1]
    assert verifier.startswith("x/y+")
    again = root_invoke(database, "keys", "create", "--out", str(stranger))
    assert again.exit_code == 1 and "--rotate" in again.stderr
    foreign = root_invoke(
        database, "log", "prove", "3", "--checkpoint", str(note), "--key", verifier
    )
    assert foreign.exit_code == 1 and "does not verify" in foreign.stderr
    rotated = root_invoke(database, "keys", "create", "--out", str(stranger), "--rotate")
    assert rotated.exit_code == 0 and rotated.stdout.strip().startswith("x/y+")


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


def test_unsynced_reads_back_what_a_reset_unsynced(database: Database) -> None:
    ledger = Ledger(database=database)
    try:
        rid = ledger.register(CTX, product="p", file_id="u").registration_id
        sid = ledger.start_session(CTX, rid, sync_type="time").session_id
        ledger.record_batch(CTX, rid, sid, [["A", "1", "x"], ["A", "2", "y"]])
        ledger.complete_session(CTX, rid, sid)
        reset = ledger.reset_registration(CTX, rid, reason="r", confirm_file_id="u")
    finally:
        ledger.close()
    result = invoke(database, "unsynced", str(reset.position))
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [(r["key"], r["digest"]) for r in lines] == [("1", "x"), ("2", "y")]
