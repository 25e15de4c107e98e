from __future__ import annotations

from collections.abc import Callable

import pytest
import replay_tamper as tamper
from replay_history import build_history

from domain import Database, Ledger
from replay.chain import GENESIS, ChainFollower
from replay.verify import verify_log


def _ledger_with_chain(database: Database) -> tuple[Ledger, int]:
    ledger = Ledger(database=database)
    build_history(ledger, steps=30)
    head = ChainFollower(database, page_size=7).advance()
    assert head == ledger.current_position()
    return ledger, head


def test_untouched_log_verifies(database: Database) -> None:
    ledger, head = _ledger_with_chain(database)
    report = verify_log(database)
    assert report.ok, report.problems
    assert report.checked == head
    assert report.head["position"] == head
    assert report.first_bad_position is None
    assert report.undecodable == []
    assert report.recorded_through == head
    # The recorded tip equals the recomputed head, and an auditor's copy of it checks out.
    assert ChainFollower(database).head() == (head, report.head["digest"])
    assert verify_log(database, digest=f"{report.head['digest']}@{head}").ok
    mid = verify_log(database, at_position=head // 2)
    assert mid.ok and mid.head["position"] == head // 2


def test_empty_log_verifies(database: Database) -> None:
    report = verify_log(database)
    assert report.ok and report.checked == 0
    assert report.head == {"position": 0, "digest": GENESIS}


TAMPERINGS: dict[str, Callable[[Database, int], int]] = {
    "modify": lambda db, p: (tamper.modify(db, p), p)[1],
    "delete": lambda db, p: (tamper.delete(db, p), p)[1],
    "swap": lambda db, p: (tamper.swap(db, p, p + 3), p)[1],
    "insert": lambda db, p: tamper.insert_after(db, p),
}


@pytest.mark.parametrize("how", list(TAMPERINGS))
def test_tampering_is_caught_at_its_position(database: Database, how: str) -> None:
    _, head = _ledger_with_chain(database)
    target = head // 2
    bad = TAMPERINGS[how](database, target)
    report = verify_log(database)
    assert not report.ok
    assert report.first_bad_position == bad, report.problems
    assert str(bad) in report.problems[0]


def test_rewriting_chain_and_heads_together_is_caught_by_kept_digest(database: Database) -> None:
    _, head = _ledger_with_chain(database)
    kept = verify_log(database).head["digest"]
    tamper.modify(database, 3)
    # The attacker recomputes and rewrites every recorded head as well.
    from replay.store import open_store

    with open_store(database) as store:
        store.conn.execute("DELETE FROM chain_heads")
    ChainFollower(database).advance()
    assert verify_log(database).ok  # the chain alone no longer tells
    report = verify_log(database, digest=f"{kept}@{head}")
    assert not report.ok
    assert report.first_bad_position == head
    assert verify_log(database, digest=f"{kept}@{head + 100}").first_bad_position == head + 100


def test_undecodable_events_are_reported(database: Database) -> None:
    _, head = _ledger_with_chain(database)
    from replay_tamper import _conn

    with _conn(database) as (conn, table, pos, ph):
        conn.execute(f"UPDATE {table} SET state = {ph} WHERE {pos} = {ph}", (b"{not json", 5))
    ChainFollower(database).advance()
    report = verify_log(database)
    assert not report.ok
    assert report.undecodable == [5]
    assert report.first_bad_position == 5


def test_follower_thread_keeps_up(database: Database) -> None:
    ledger = Ledger(database=database)
    follower = ChainFollower(database)
    ledger.on_saved(follower.notify)
    follower.start()
    try:
        build_history(ledger, steps=15)
        import time

        deadline = time.monotonic() + 10
        while follower.head()[0] < ledger.current_position() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        follower.stop()
    assert follower.head()[0] == ledger.current_position()
    assert verify_log(database).ok
