"""Property: views built live, event by event, equal views rebuilt from position 0."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import Context, Database, Ledger, LedgerError
from projections import ReadModels

OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["start", "records", "error", "complete", "fail", "delete", "reset", "undo", "request"]
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


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS, file_no=st.integers(0, 10**9))
def test_live_equals_rebuilt(database: Database, ops: list, file_no: int) -> None:
    ledger = Ledger(database=database)
    models = ReadModels(database)
    ctx = Context("alice", "prop")
    try:
        rid = ledger.register(ctx, product="p", file_id=f"f{file_no}").registration_id
        sessions: list[str] = []
        undoable: list[int] = []
        for op, n, recs in ops:
            try:
                if op == "start":
                    sessions.append(
                        ledger.start_session(
                            ctx, rid, sync_type="periodic" if n % 2 else "custom"
                        ).session_id
                    )
                elif not sessions and op in ("records", "error", "complete", "fail", "delete"):
                    pass
                elif op == "records":
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
                            override=True,
                            ticket="T",
                        ).position
                    )
                elif op == "reset":
                    undoable.append(
                        ledger.reset_registration(
                            ctx, rid, reason="r", confirm_file_id=f"f{file_no}"
                        ).position
                    )
                elif op == "undo" and undoable:
                    undoable.append(
                        ledger.undo(ctx, undoable[n % len(undoable)], reason="u").position
                    )
                elif op == "request":
                    ledger.request_sync(ctx, rid, kind="periodic")
            except LedgerError:
                pass
            models.run_once()
        models.run_once()
        assert models.position() == ledger.current_position(), models.positions()
        report = models.rebuild()
        assert report.same, report
    finally:
        models.close()
        ledger.close()
