"""Tamper matrix: each way of rewriting the event log, with the helper tables (tiles,
stored checkpoints) left, altered or emptied, is caught by `verify` given a checkpoint kept
outside the database, and named at its position given an earlier export."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import replay_tamper as tamper
from log_fixtures import config
from replay_history import build_history

from domain import Database, Ledger
from replay.export import export_events
from replay.merkle import EMPTY_ROOT
from replay.tiles import open_tiles
from replay.treelog import TreeFollower
from replay.verify import LIMITS_DATABASE, LIMITS_NONE, LIMITS_OUTSIDE, verify_log


def _history(database: Database, tmp_path: Path) -> tuple[int, str, Path]:
    """A signed log: (head position, the checkpoint note kept outside, an export)."""
    ledger = Ledger(database=database)
    build_history(ledger, steps=30)
    head = ledger.current_position()
    ledger.close()
    follower = TreeFollower(database, config(tmp_path))
    follower.step(force=True)
    note = follower.latest_note()
    assert note is not None
    export = tmp_path / "before.jsonl"
    export_events(database, export, log_config=config(tmp_path))
    return head, note, export


# Each returns the first position that changed.
TAMPERINGS: dict[str, Callable[[Database, int, int], int]] = {
    "edit": lambda db, p, head: (tamper.modify(db, p), p)[1],
    "delete": lambda db, p, head: (tamper.delete(db, p), p)[1],
    "swap": lambda db, p, head: (tamper.swap(db, p, p + 3), p)[1],
    "insert": lambda db, p, head: tamper.insert_after(db, p),
    "truncate": lambda db, p, head: ([tamper.delete(db, q) for q in (head, head - 1)], head - 1)[1],
}


def _helpers(database: Database, how: str, tmp_path: Path) -> None:
    """What the attacker does to the tables beside the events."""
    if how == "left":
        return
    with open_tiles(database) as tiles, tiles.transaction():
        tiles.clear_tiles()
        tiles.conn.execute("DELETE FROM log_checkpoints")
    if how == "altered":  # tiles recomputed over the forged log, as a follower would
        TreeFollower(database, config(tmp_path / "attacker")).advance()


@pytest.mark.parametrize("helpers", ["left", "altered", "emptied"])
@pytest.mark.parametrize("how", list(TAMPERINGS))
def test_tampering_is_caught(database: Database, tmp_path: Path, how: str, helpers: str) -> None:
    head, kept, export = _history(database, tmp_path)
    changed = TAMPERINGS[how](database, head // 2, head)
    _helpers(database, helpers, tmp_path)
    keys = [config(tmp_path).signer().verifier]

    with_checkpoint = verify_log(database, checkpoint_note=kept, verifiers=keys)
    assert not with_checkpoint.ok, with_checkpoint.as_dict()
    assert with_checkpoint.limits == LIMITS_OUTSIDE
    assert with_checkpoint.checkpoint is not None
    assert with_checkpoint.checkpoint["root_matches"] is False

    named = verify_log(database, against=export, verifiers=keys)
    assert not named.ok
    assert named.first_bad_position == changed, named.problems
    assert f"position {changed}" in " ".join(named.problems)


@pytest.mark.parametrize("helpers", ["left", "altered", "emptied"])
def test_untouched_log_verifies_whatever_the_helper_tables(
    database: Database, tmp_path: Path, helpers: str
) -> None:
    head, kept, export = _history(database, tmp_path)
    _helpers(database, helpers, tmp_path)
    keys = [config(tmp_path).signer().verifier]
    report = verify_log(database, checkpoint_note=kept, verifiers=keys)
    assert report.ok, report.problems
    assert report.checked == head and report.head["position"] == head
    assert report.checkpoint is not None and report.checkpoint["root_matches"]
    assert verify_log(database, against=export, verifiers=keys).ok
    # The root at the head, kept as HEX@POSITION, checks too; a wrong one does not.
    assert verify_log(database, digest=f"{report.head['digest']}@{head}", verifiers=keys).ok
    wrong = verify_log(database, digest=f"{'0' * 64}@{head}", verifiers=keys)
    assert not wrong.ok and wrong.first_bad_position == head


def test_without_a_checkpoint_kept_elsewhere_the_report_says_what_it_cannot_see(
    database: Database, tmp_path: Path
) -> None:
    ledger = Ledger(database=database)
    build_history(ledger, steps=10)
    keys = [config(tmp_path).signer().verifier]
    nothing = verify_log(database, verifiers=keys)
    assert nothing.ok and nothing.checkpoint is None and nothing.limits == LIMITS_NONE
    TreeFollower(database, config(tmp_path)).step(force=True)
    stored = verify_log(database, verifiers=keys)
    assert stored.ok and stored.limits == LIMITS_DATABASE
    assert stored.checkpoint is not None and stored.checkpoint["source"] == "database"
    tamper.modify(database, 3)
    caught = verify_log(database, verifiers=keys)
    assert not caught.ok  # the stored, signed checkpoint still catches a plain edit
    assert caught.first_bad_position == 3  # located with the tiles (a hint)


def test_a_checkpoint_signed_by_another_key_is_not_accepted(
    database: Database, tmp_path: Path
) -> None:
    _, kept, _ = _history(database, tmp_path)
    stranger = config(tmp_path / "other").signer().verifier
    report = verify_log(database, checkpoint_note=kept, verifiers=[stranger])
    assert not report.ok
    assert "INVALID" in report.problems[0]


def test_empty_log_verifies(database: Database, tmp_path: Path) -> None:
    report = verify_log(database, verifiers=[])
    assert report.ok and report.checked == 0
    assert report.head == {"position": 0, "digest": EMPTY_ROOT.hex(), "tree_size": 0}


def test_undecodable_events_are_reported(database: Database, tmp_path: Path) -> None:
    Ledger(database=database)
    build_history(Ledger(database=database), steps=10)
    with tamper._conn(database) as (conn, table, pos, ph):
        conn.execute(f"UPDATE {table} SET state = {ph} WHERE {pos} = {ph}", (b"{not json", 5))
    report = verify_log(database, verifiers=[])
    assert not report.ok
    assert report.undecodable == [5]
    assert report.first_bad_position == 5


def test_verify_says_ok_only_for_what_a_signed_checkpoint_covers(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: no table outside the event log (stored checkpoints emptied) can make
    `verify` say "ok" about events it compared with nothing; it says what it checked."""
    from typer.testing import CliRunner

    from api.cli import app
    from domain import Context

    head, _, _ = _history(database, tmp_path)
    keys = [config(tmp_path).signer().verifier]
    ledger = Ledger(database=database)
    ledger.register(Context("alice", "c"), product="later", file_id="f")
    total = ledger.current_position()
    ledger.close()
    stored = verify_log(database, verifiers=keys)
    assert stored.ok and stored.verified, stored.as_dict()
    assert stored.verdict.startswith(f"ok: the {head:,} events up to tree size {head:,} match")
    assert f"the {total - head:,} events after it were only re-hashed" in stored.verdict

    with tamper._conn(database) as (conn, _, _, _):
        conn.execute("DELETE FROM log_checkpoints")
    tamper.modify(database, 3)
    emptied = verify_log(database, verifiers=keys)
    assert not emptied.verified and emptied.verdict.startswith("NOT VERIFIED"), emptied.verdict
    monkeypatch.setenv("SYNCLEDGER_SIGNING_KEY", str(config(tmp_path).signing_key))
    done = CliRunner().invoke(app, ["--database-url", database.url, "replay", "verify"])
    assert "NOT VERIFIED" in done.output and "ok:" not in done.output, done.output
