"""Verification read by worker processes (replay/verify_scan.py) reports exactly what the
one-process scan reports: untouched, tampered and undecodable logs, with a checkpoint kept
outside and with an earlier export, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import replay_tamper as tamper
from log_fixtures import config
from replay_history import build_history

from domain import Database, Ledger
from replay import verify_scan
from replay.export import export_events
from replay.treelog import TreeFollower
from replay.verify import verify_log


def _undecodable(db: Database, p: int) -> None:
    with tamper._conn(db) as (conn, table, pos, ph):
        conn.execute(f"UPDATE {table} SET state = {ph} WHERE {pos} = {ph}", (b"{not json", p))


TAMPERINGS: dict[str, Callable[[Database, int], Any]] = {
    "none": lambda db, p: None,
    "edit": tamper.modify,
    "delete": tamper.delete,
    "insert": tamper.insert_after,
    "undecodable": _undecodable,
}


@pytest.mark.parametrize("how", list(TAMPERINGS))
def test_workers_report_what_one_process_reports(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    ledger = Ledger(database=database)
    build_history(ledger, steps=30)
    head = ledger.current_position()
    ledger.close()
    follower = TreeFollower(database, config(tmp_path))
    follower.step(force=True)
    note = follower.latest_note()
    export = tmp_path / "before.jsonl"
    export_events(database, export, log_config=config(tmp_path))
    TAMPERINGS[how](database, head // 2)
    keys = [config(tmp_path).signer().verifier]

    def both(**kwargs: Any) -> dict[str, Any]:
        one = verify_log(database, verifiers=keys, **kwargs).as_dict()
        # Spans of 7 positions over 2 workers: many chunks, the stops inside them.
        monkeypatch.setattr(verify_scan, "SPAN", 7)
        monkeypatch.setattr(verify_scan, "PARALLEL_FROM", 0)
        parallel = verify_log(database, verifiers=keys, workers=2, **kwargs).as_dict()
        monkeypatch.undo()
        assert parallel == one
        return one

    kept = both(checkpoint_note=note)
    assert kept["ok"] is (how == "none"), kept
    named = both(against=export)
    if how != "none":
        assert named["first_bad_position"] == head // 2 + (how == "insert")
    both(at_position=head // 3)
