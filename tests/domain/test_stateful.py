"""Random sequences of commands against a Ledger, checked against a reference model.

Invariants after every step: the aggregates rebuilt from the stored log equal the live ones;
never two in-progress sessions of one type; receipts replayed from the log equal the model's.
Delete-then-undo and reset-then-undo give back exactly the receipts that were there.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from ledger_testkit import Receipts, receipts_from_log

from domain.errors import (
    LedgerError,
    NotUndoable,
    SessionInProgress,
    SessionNotInProgress,
    ValidationFailed,
)
from domain.infra.database import Database
from domain.ledger import Ledger
from domain.values import Context

PG_URL = os.environ.get("SYNCLEDGER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
CTX = Context("stateful", "corr-stateful")
TYPES = ("time", "custom")
KEYS = [("A", f"k{i}") for i in range(5)] + [("B", "k0")]


@dataclass
class ModelSession:
    sid: str
    seq: int
    sync_type: str
    status: str = "in_progress"
    deleted: bool = False
    records: dict[tuple[str, str], str] = field(default_factory=dict)


class Model:
    """Reference receipts: newest non-removed session per key wins (docs: Receipt semantics)."""

    def __init__(self) -> None:
        self.sessions: dict[str, ModelSession] = {}
        self.seq = 0
        self.resets: dict[str, list[Any]] = {}  # chain -> [cutoff, active]

    @property
    def cutoff(self) -> int:
        return max((c for c, active in self.resets.values() if active), default=0)

    def removed(self, s: ModelSession) -> bool:
        return s.deleted or s.seq <= self.cutoff

    def live(self, s: ModelSession) -> bool:
        return s.status == "in_progress" and not self.removed(s)

    def open_of(self, sync_type: str) -> list[str]:
        return [s.sid for s in self.sessions.values() if s.sync_type == sync_type and self.live(s)]

    def most_recent(self, sync_type: str) -> str | None:
        """Rule 5's definition: the not-removed session of the type with the highest seq."""
        kept = [
            s for s in self.sessions.values() if s.sync_type == sync_type and not self.removed(s)
        ]
        return max(kept, key=lambda s: s.seq).sid if kept else None

    def would_unsync(self, s: ModelSession) -> int:
        """Receipts a deletion of `s` takes away: its records no newer live session synced."""
        if self.removed(s):
            return 0
        newer = {
            k
            for o in self.sessions.values()
            if o.seq > s.seq and not self.removed(o)
            for k in o.records
        }
        return len(set(s.records) - newer)

    def receipts(self) -> Receipts:
        out: dict[tuple[str, str], tuple[int, str, str]] = {}
        for s in self.sessions.values():
            if self.removed(s):
                continue
            for record_key, digest in s.records.items():
                if record_key not in out or out[record_key][0] < s.seq:
                    out[record_key] = (s.seq, s.sid, digest)
        return {k: (sid, digest) for k, (_, sid, digest) in out.items()}


class LedgerMachine(RuleBasedStateMachine):
    backend = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self.cleanup: list[Any] = []
        if self.backend == "sqlite":
            tmp = tempfile.mkdtemp(prefix="stateful-")
            self.cleanup.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
            self.database = Database.from_url(f"sqlite:///{tmp}/ledger.db")
        else:
            schema = f"h_{uuid.uuid4().hex[:12]}"
            base = Database.from_url(PG_URL)
            with psycopg.connect(base.conninfo, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')

            def drop() -> None:
                with psycopg.connect(base.conninfo, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

            self.cleanup.append(drop)
            sep = "&" if "?" in PG_URL else "?"
            self.database = Database.from_url(f"{PG_URL}{sep}schema={schema}")
        self.ledger = Ledger(database=self.database)
        self.cleanup.insert(0, self.ledger.close)
        self.model = Model()
        # position of a destructive action or undo -> ("session", sid) | ("reset", chain)
        self.undoable: dict[int, tuple[str, str]] = {}
        self.batch_no = 0

    def teardown(self) -> None:
        for step in self.cleanup:
            step()

    @initialize()
    def register(self) -> None:
        self.rid = self.ledger.register(CTX, product="p", file_id="f.qbw").registration_id

    # --- helpers -----------------------------------------------------------------------

    def _any_session(self, data: st.DataObject) -> ModelSession:
        sids = list(self.model.sessions)  # insertion order: draws replay deterministically
        return self.model.sessions[data.draw(st.sampled_from(sids))]

    def _delete(self, s: ModelSession) -> int:
        result = self.ledger.delete_session(
            CTX, self.rid, s.sid, reason="test", override=True, ticket="T-1"
        )
        s.deleted = True
        self.undoable[result.position] = ("session", s.sid)
        return result.position

    def _reset(self) -> int:
        result = self.ledger.reset_registration(CTX, self.rid, reason="r", confirm_file_id="f.qbw")
        chain = str(self.ledger.event_at(result.position - 1).originator_version)
        self.model.resets[chain] = [result.sessions_up_to_seq, True]
        self.undoable[result.position] = ("reset", chain)
        return result.position

    def _undo(self, position: int) -> None:
        kind, target = self.undoable[position]
        undone = self.ledger.undo(CTX, position, reason="undo")
        if kind == "session":
            s = self.model.sessions[target]
            assert undone.kind == ("deletion" if s.deleted else "restoration")
            s.deleted = not s.deleted
        else:
            state = self.model.resets[target]
            assert undone.kind == ("reset" if state[1] else "reset_undo")
            state[1] = not state[1]
        self.undoable[undone.position] = (kind, target)

    # --- rules -------------------------------------------------------------------------

    @rule(sync_type=st.sampled_from(TYPES))
    def start(self, sync_type: str) -> None:
        blocking = self.model.open_of(sync_type)
        try:
            started = self.ledger.start_session(CTX, self.rid, sync_type=sync_type)
        except SessionInProgress as e:
            assert blocking == [e.details["blocking_session_id"]]
            return
        assert not blocking
        self.model.seq += 1
        self.model.sessions[started.session_id] = ModelSession(
            started.session_id, self.model.seq, sync_type
        )

    @precondition(lambda self: self.model.sessions)
    @rule(
        data=st.data(),
        picks=st.lists(
            st.tuples(st.sampled_from(KEYS), st.sampled_from("xyz")), min_size=1, max_size=6
        ),
    )
    def records(self, data: st.DataObject, picks: list[tuple[tuple[str, str], str]]) -> None:
        s = self._any_session(data)
        batch = [[et, key, digest] for (et, key), digest in picks]
        self.batch_no += 1
        if len({key for key, _ in picks}) != len(picks):  # rule 12: refused whole
            try:
                self.ledger.record_batch(CTX, self.rid, s.sid, batch)
            except ValidationFailed as e:
                assert e.details["field"].startswith("records[")
                return
            raise AssertionError("a batch repeating a record was accepted")
        try:
            result = self.ledger.record_batch(
                CTX, self.rid, s.sid, batch, batch_id=f"b{self.batch_no}"
            )
        except SessionNotInProgress:
            assert not self.model.live(s)
            return
        assert self.model.live(s)
        accepted = 0
        for (et, key), digest in picks:
            if s.records.get((et, key)) != digest:
                accepted += 1
            s.records[(et, key)] = digest
        # Within one session, a record is a duplicate when its digest is unchanged.
        assert result.accepted == accepted, (result, accepted)
        assert result.accepted + result.duplicates == len(batch)

    @precondition(lambda self: self.model.sessions)
    @rule(data=st.data())
    def error(self, data: st.DataObject) -> None:
        s = self._any_session(data)
        try:
            self.ledger.record_error(CTX, self.rid, s.sid, message="e", entity_type="A", key="k0")
        except SessionNotInProgress:
            assert not self.model.live(s)
            return
        assert self.model.live(s)

    @precondition(lambda self: self.model.sessions)
    @rule(data=st.data(), complete=st.booleans())
    def end(self, data: st.DataObject, complete: bool) -> None:
        s = self._any_session(data)
        status = "completed" if complete else "failed"
        try:
            if complete:
                self.ledger.complete_session(CTX, self.rid, s.sid)
            else:
                self.ledger.fail_session(CTX, self.rid, s.sid, reason="f")
        except SessionNotInProgress:
            assert not self.model.live(s)
            return
        assert self.model.live(s) or (s.status == status and not self.model.removed(s))
        s.status = status

    @precondition(lambda self: self.model.sessions)
    @rule(data=st.data(), then_undo=st.booleans())
    def delete(self, data: st.DataObject, then_undo: bool) -> None:
        if then_undo:
            present = [s for s in self.model.sessions.values() if not self.model.removed(s)]
            if not present:
                return
            s = data.draw(st.sampled_from(present))
            before = self.model.receipts()
            position = self._delete(s)
            self._undo(position)
            assert receipts_from_log(self.ledger, self.rid) == before == self.model.receipts()
            return
        s = self._any_session(data)
        try:
            self._delete(s)
        except LedgerError as e:
            assert self.model.removed(s), e
            assert e.code == "already_deleted"

    @rule(then_undo=st.booleans())
    def reset(self, then_undo: bool) -> None:
        before = self.model.receipts()
        position = self._reset()
        assert receipts_from_log(self.ledger, self.rid) == {}
        if then_undo:
            self._undo(position)
            assert receipts_from_log(self.ledger, self.rid) == before == self.model.receipts()

    @precondition(lambda self: self.undoable)
    @rule(data=st.data())
    def undo(self, data: st.DataObject) -> None:
        position = data.draw(st.sampled_from(sorted(self.undoable)))
        try:
            self._undo(position)
        except NotUndoable:
            pass

    # --- invariants --------------------------------------------------------------------

    @invariant()
    def one_in_progress_per_type(self) -> None:
        if not hasattr(self, "rid"):
            return
        reg = self.ledger.get_registration(self.rid)
        for sync_type in TYPES:
            expected = self.model.open_of(sync_type)
            assert len(expected) <= 1
            assert reg.session_in_progress(sync_type) == (expected[0] if expected else None)

    @invariant()
    def deletion_checks_and_dry_runs_match_the_model(self) -> None:
        """Findings 4 and 5: most recent and the dry run, against the model's definitions."""
        if not hasattr(self, "rid"):
            return
        for s in self.model.sessions.values():
            check = self.ledger.check_deletion(self.rid, s.sid)
            recent = self.model.most_recent(s.sync_type) == s.sid
            assert ("not_most_recent" not in check.failed_checks) == recent, (s, check)
            preview = self.ledger.preview_deletion(self.rid, s.sid)
            assert preview.would_unsync == self.model.would_unsync(s), (s, preview)

    @invariant()
    def receipts_match_the_model(self) -> None:
        if not hasattr(self, "rid"):
            return
        assert receipts_from_log(self.ledger, self.rid) == self.model.receipts()

    @invariant()
    def rebuilt_equals_live(self) -> None:
        if not hasattr(self, "rid"):
            return
        live = self.ledger.get_registration(self.rid)
        # Cache bypassed: a versioned get replays snapshot + events from the store.
        assert self.ledger.repository.get(self.rid, version=live.version) == live
        fresh = Ledger(database=self.database)
        try:
            assert fresh.get_registration(self.rid) == live
            for sid in self.model.sessions:
                assert fresh.get_session(self.rid, sid) == self.ledger.get_session(self.rid, sid)
        finally:
            fresh.close()


class PostgresLedgerMachine(LedgerMachine):
    backend = "postgresql"


LedgerMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerSQLite = LedgerMachine.TestCase

PostgresLedgerMachine.TestCase.settings = settings(
    max_examples=8,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_ledger_postgresql(postgres_database: Database) -> None:
    # The fixture proves the server is reachable (or skips/fails per conftest's policy).
    PostgresLedgerMachine.TestCase("runTest").runTest()
