from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from log_fixtures import config
from replay_history import build_history

from domain import Database, Ledger
from replay.export import export_events, read_export, read_export_checkpoint, verify_export
from replay.note import open_checkpoint
from replay.verify import verify_log


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_then_reverify_from_file(database: Database, tmp_path: Path, fmt: str) -> None:
    ledger = Ledger(database=database)
    rid = build_history(ledger, steps=25)
    cfg = config(tmp_path)
    out = tmp_path / f"events.{fmt}"
    head = ledger.current_position()
    assert export_events(database, out, fmt=fmt, log_config=cfg) == head
    rows = list(read_export(out))
    assert [r["position"] for r in rows] == list(range(1, head + 1))
    assert [r["leaf_index"] for r in rows] == list(range(head))
    first = rows[0]
    assert first["type"] == "domain.registration:Registration.Registered"
    assert first["actor"] == "alice" and first["correlation_id"] == "c"
    assert first["data"]["product"] == "accountlink"
    # The export carries a checkpoint signed for exactly its rows.
    note = read_export_checkpoint(out)
    assert note is not None
    checkpoint, _ = open_checkpoint(note, [cfg.signer().verifier])
    assert checkpoint.tree_size == head
    live = verify_log(database, verifiers=[cfg.signer().verifier])
    assert checkpoint.root_hash.hex() == live.head["digest"]
    report = verify_export(out, verifiers=[cfg.signer().verifier])
    assert report.ok, report.problems
    assert report.head["digest"] == live.head["digest"]

    # A per-registration export holds only its rows, each with its global leaf index.
    part = tmp_path / f"one.{fmt}"
    n = export_events(database, part, fmt=fmt, registration_id=rid, log_config=cfg)
    assert 0 < n < len(rows)
    assert verify_export(part, verifiers=[cfg.signer().verifier]).ok
    assert verify_log(database, against=part, verifiers=[cfg.signer().verifier]).ok


def test_edited_export_fails_verification(database: Database, tmp_path: Path) -> None:
    ledger = Ledger(database=database)
    build_history(ledger, steps=15)
    out = tmp_path / "events.jsonl"
    export_events(database, out, log_config=config(tmp_path))
    lines = out.read_text().splitlines()

    row = orjson.loads(lines[4])
    row["actor"] = "mallory"
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join(lines[:4] + [orjson.dumps(row).decode()] + lines[5:]) + "\n")
    assert verify_export(edited).first_bad_position == 5

    row = orjson.loads(lines[4])
    row["state_b64"] = row["state_b64"][:-4] + "AAA="
    forged = tmp_path / "forged.jsonl"
    forged.write_text("\n".join(lines[:4] + [orjson.dumps(row).decode()] + lines[5:]) + "\n")
    assert not verify_export(forged).ok

    dropped = tmp_path / "dropped.jsonl"
    dropped.write_text("\n".join(lines[:4] + lines[5:]) + "\n")
    report = verify_export(dropped)
    assert not report.ok
    assert any("do not add up" in p or "out of order" in p for p in report.problems)


def test_csv_cells_a_spreadsheet_would_run_are_escaped_and_read_back(
    database: Database, tmp_path: Path
) -> None:
    """Issue 11, finding 6: formula injection through the correlation id, the actor or any
    text; the escaped export still reads back exactly and re-verifies."""
    from domain import Context

    ledger = Ledger(database=database)
    formulas = ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "'=quoted", "\tx"]
    for n, text in enumerate(formulas):
        ctx = Context(actor=text, correlation_id=text)
        ledger.register(ctx, product=text, file_id=f"{text}-{n}", name=text)
    cfg = config(tmp_path)
    out, plain = tmp_path / "events.csv", tmp_path / "events.jsonl"
    export_events(database, out, fmt="csv", log_config=cfg)
    export_events(database, plain, fmt="jsonl", log_config=cfg)
    import csv

    with open(out, newline="", encoding="utf-8") as f:
        cells = [c for row in csv.reader(f) for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert '\'=HYPERLINK("http://x")' in cells and "''=quoted" in cells
    assert list(read_export(out)) == list(read_export(plain))
    assert verify_export(out, verifiers=[cfg.signer().verifier]).ok
