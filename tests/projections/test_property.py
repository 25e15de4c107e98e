"""Properties of the read side on generated histories, on both backends.

1. Views built live, event by event, equal views rebuilt from position 0.
2. Differential (rule 19): after every step the read models and the as-of history give the
   domain's answers —
   each session's deletion check (removed, most recent of its type, safe to delete), the
   dry run's count against the receipts the views hold for that session, the current
   receipts against a recomputation from the log, and the session history (which sessions
   are not removed, in order, with their status).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import Context, Database, Ledger, LedgerError
from domain.policy import is_removed
from projections import ReadModels
from replay.asof import history_as_of
from replay.unsynced import unsynced_by_deletion

sys.path.insert(0, str(Path(__file__).parents[1] / "domain"))
from ledger_testkit import receipts_from_log  # noqa: E402

OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "start",
                "records",
                "error",
                "complete",
                "fail",
                "delete",
                "reset",
                "undo",
                "request",
                "cancel",
            ]
        ),
        st.integers(0, 5),
        st.lists(
            st.tuples(st.sampled_from("AB"), st.integers(0, 6), st.sampled_from("xyz")),
            min_size=1,
            max_size=4,
        ),
    ),
    min_size=1,
    max_size=25,
)


def _all(read: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = read(cursor)
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            return items


def assert_agree(ledger: Ledger, models: ReadModels, rid: UUID, sessions: list[str]) -> None:
    """The read models answer what the domain answers."""
    models.run_once()
    reg = ledger.get_registration(rid)
    receipts = _all(lambda c: models.receipts(rid, limit=500, cursor=c))
    from_log = receipts_from_log(ledger, rid)
    assert {(r["entity_type"], r["key"]): (r["session_id"], r["digest"]) for r in receipts} == (
        from_log
    )
    per_session: dict[str, int] = {}
    for r in receipts:
        per_session[r["session_id"]] = per_session.get(r["session_id"], 0) + 1
    history = _all(lambda c: models.list_sessions(rid, include_deleted=False, limit=7, cursor=c))
    live = []
    for sid in sessions:
        session = ledger.get_session(rid, sid)
        row = models.get_session(rid, sid)
        assert row is not None
        check = ledger.check_deletion(rid, sid).as_dict()
        assert row["deletion_check"] == check, (sid, row, check)
        assert row["status"] == session.status
        removed = is_removed(reg, session)
        assert (row["deleted"] is not None or row["removed_by_reset"] is not None) == removed
        preview = ledger.preview_deletion(rid, sid)
        if not removed:
            live.append((session.seq, sid))
            # The dry run counts exactly the receipts the deletion would take away.
            assert preview.would_unsync == per_session.get(sid, 0), (sid, preview)
            assert len(preview.records) == min(preview.would_unsync, 100)
        else:
            assert preview.would_unsync == 0
    expected = [sid for _, sid in sorted(live, reverse=True)]
    assert [item["id"] for item in history] == expected
    # The as-of history (replayed from the log) at the position the log stands at now.
    as_of = history_as_of(ledger, rid, position=ledger.current_position(), include_deleted=False)
    assert [item["id"] for item in as_of] == expected
    assert {item["id"]: item["status"] for item in as_of} == {
        item["id"]: item["status"] for item in history
    }


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS, file_no=st.integers(0, 10**9))
def test_live_equals_rebuilt_and_agrees_with_the_domain(
    database: Database, ops: list[Any], file_no: int
) -> None:
    ledger = Ledger(database=database)
    models = ReadModels(database)
    ctx = Context("alice", "prop")
    # The database outlives one example: each example gets its own registration.
    file_id = f"f{file_no}-{uuid4().hex}"
    try:
        rid = ledger.register(ctx, product="p", file_id=file_id).registration_id
        sessions: list[str] = []
        undoable: list[int] = []
        requests: list[str] = []
        for op, n, recs in ops:
            try:
                if op == "start":
                    sync_type = ("periodic", "custom", "full")[n % 3]
                    request = requests[n % len(requests)] if requests and n % 2 else None
                    sessions.append(
                        ledger.start_session(
                            ctx, rid, sync_type=sync_type, request_id=request
                        ).session_id
                    )
                elif not sessions and op in ("records", "error", "complete", "fail", "delete"):
                    pass
                elif op == "records":
                    # Repeats within a batch are refused (rule 12); across batches and
                    # sessions they re-sync and supersede.
                    batch = [[et, str(k), d] for et, k, d in recs]
                    ledger.record_batch(ctx, rid, sessions[n % len(sessions)], batch)
                elif op == "error":
                    ledger.record_error(ctx, rid, sessions[n % len(sessions)], message="e")
                elif op == "complete":
                    ledger.complete_session(ctx, rid, sessions[n % len(sessions)])
                elif op == "fail":
                    ledger.fail_session(ctx, rid, sessions[n % len(sessions)], reason="r")
                elif op == "delete":
                    undoable.append(
                        ledger.delete_session(
                            ctx,
                            rid,
                            sessions[n % len(sessions)],
                            reason="r",
                            override=n % 2 == 0,
                            ticket="T",
                        ).position
                    )
                elif op == "reset":
                    undoable.append(
                        ledger.reset_registration(
                            ctx, rid, reason="r", confirm_file_id=file_id
                        ).position
                    )
                elif op == "undo" and undoable:
                    undoable.append(
                        ledger.undo(ctx, undoable[n % len(undoable)], reason="u").position
                    )
                elif op == "request":
                    kind = "full" if n % 2 else "periodic"
                    requests.append(
                        ledger.request_sync(ctx, rid, kind=kind, confirm=True).request_id
                    )
                elif op == "cancel" and requests:
                    ledger.cancel_sync_request(ctx, rid, requests[n % len(requests)], reason="c")
            except LedgerError:
                pass
            assert_agree(ledger, models, rid, sessions)
        models.run_once()
        assert models.position() == ledger.current_position(), models.positions()
        report = models.rebuild()
        assert report.same, report
    finally:
        models.close()
        ledger.close()


def test_most_recent_after_more_deletions_than_the_aggregate_keeps(
    database: Database,
) -> None:
    """Finding 5: deleting the newest sessions of a type one by one, past the 32 the
    registration keeps, the domain and the read side still agree on which is most recent
    (old code: the domain's stack ran empty and said `not_most_recent` where the page said
    safe). A deletion undone below the kept ones does not leave a gap either."""
    ledger = Ledger(database=database)
    models = ReadModels(database)
    ctx = Context("alice", "recent")
    try:
        rid = ledger.register(ctx, product="p", file_id="many").registration_id
        sessions = []
        for _ in range(36):
            sid = ledger.start_session(ctx, rid, sync_type="time").session_id
            ledger.complete_session(ctx, rid, sid)
            sessions.append(sid)
        stuck = ledger.start_session(ctx, rid, sync_type="custom").session_id
        deleted = ledger.delete_session(
            ctx, rid, sessions[1], reason="r", override=True, ticket="T"
        )
        for sid in reversed(sessions[3:]):
            ledger.delete_session(ctx, rid, sid, reason="r", override=True, ticket="T")
        ledger.undo(ctx, deleted.position, reason="back")  # below the stack's bottom
        assert_agree(ledger, models, rid, [*sessions, stuck])
        # sessions[2] is now the most recent "time" session, then sessions[1], then [0].
        assert "not_most_recent" not in ledger.check_deletion(rid, sessions[2]).failed_checks
        ledger.delete_session(ctx, rid, sessions[2], reason="r", override=True, ticket="T")
        assert "not_most_recent" not in ledger.check_deletion(rid, sessions[1]).failed_checks
        assert_agree(ledger, models, rid, [*sessions, stuck])
        # A fresh process (no cache) rebuilds the same answer from the log alone.
        fresh = Ledger(database=database)
        try:
            assert fresh.get_registration(rid) == ledger.get_registration(rid)
        finally:
            fresh.close()
    finally:
        models.close()
        ledger.close()


def test_the_dry_run_counts_only_what_the_deletion_unsyncs(database: Database) -> None:
    """Finding 4: a newer session re-synced a record; the deletion of the older one leaves
    that receipt alone, and the dry run says so (old code: would_unsync counted it)."""
    ledger = Ledger(database=database)
    models = ReadModels(database)
    ctx = Context("alice", "dry")
    try:
        rid = ledger.register(ctx, product="p", file_id="dry").registration_id
        old = ledger.start_session(ctx, rid, sync_type="time").session_id
        ledger.record_batch(ctx, rid, old, [["A", "1", "x"], ["A", "2", "x"], ["A", "3", "x"]])
        ledger.record_batch(ctx, rid, old, [["A", "1", "y"]])  # same key, changed digest
        ledger.complete_session(ctx, rid, old)
        new = ledger.start_session(ctx, rid, sync_type="custom").session_id
        ledger.record_batch(ctx, rid, new, [["A", "2", "z"]])
        preview = ledger.preview_deletion(rid, old)
        assert preview.would_unsync == 2
        assert sorted(preview.records) == [("A", "1", "y"), ("A", "3", "x")]
        assert_agree(ledger, models, rid, [old, new])
        deleted = ledger.delete_session(ctx, rid, old, reason="r", override=True, ticket="T")
        assert deleted.unsynced == preview.would_unsync
        models.run_once()
        entry = models.audit_entry(deleted.position - 1)
        assert entry is not None and entry["unsynced"] == preview.would_unsync
        # An auditor reads which records it unsynced back from the log (finding 9).
        later = ledger.start_session(ctx, rid, sync_type="time").session_id
        ledger.record_batch(ctx, rid, later, [["A", "3", "w"]])  # after: changes nothing
        for position in (deleted.position, deleted.position - 1):
            assert sorted(unsynced_by_deletion(database, position)) == sorted(preview.records)
    finally:
        models.close()
        ledger.close()
