from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from replay_history import build_history

from domain import Database, Ledger
from replay.chain import ChainFollower
from replay.export import export_events, read_export, verify_export
from replay.verify import verify_log


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_then_reverify_from_file(database: Database, tmp_path: Path, fmt: str) -> None:
    ledger = Ledger(database=database)
    rid = build_history(ledger, steps=25)
    ChainFollower(database).advance()
    live = verify_log(database)
    out = tmp_path / f"events.{fmt}"
    assert export_events(database, out, fmt=fmt) == ledger.current_position()
    rows = list(read_export(out))
    assert [r["position"] for r in rows] == list(range(1, ledger.current_position() + 1))
    first = rows[0]
    assert first["type"] == "domain.registration:Registration.Registered"
    assert first["actor"] == "alice" and first["correlation_id"] == "c"
    assert first["data"]["product"] == "accountlink"
    report = verify_export(out)
    assert report.ok, report.problems
    assert report.head == live.head
    assert verify_export(out, digest=f"{live.head['digest']}@{live.head['position']}").ok

    # A per-registration export holds only its rows, each checkable on its own.
    part = tmp_path / f"one.{fmt}"
    n = export_events(database, part, fmt=fmt, registration_id=rid)
    assert 0 < n < len(rows)
    assert verify_export(part).ok


def test_edited_export_fails_verification(database: Database, tmp_path: Path) -> None:
    ledger = Ledger(database=database)
    build_history(ledger, steps=15)
    out = tmp_path / "events.jsonl"
    export_events(database, out)
    lines = out.read_text().splitlines()

    row = orjson.loads(lines[4])
    row["actor"] = "mallory"
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join(lines[:4] + [orjson.dumps(row).decode()] + lines[5:]) + "\n")
    assert verify_export(edited).first_bad_position == 5

    dropped = tmp_path / "dropped.jsonl"
    dropped.write_text("\n".join(lines[:4] + lines[5:]) + "\n")
    assert verify_export(dropped).first_bad_position == 6
