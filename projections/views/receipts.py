"""Receipts: each session's own records, and the current receipt per record.

The current receipt of (registration, entity_type, key) is the newest record (by session
seq, then position) among sessions that are not removed (deleted, or seq <= the cutoff of
a reset in force). Deletions, resets and their undos recompute the affected keys with
set-based SQL; their effect (receipts unsynced / restored / skipped) is kept per position.

One table holds a row per record, `view_session_records`, with a mark on the rows that hold
the current receipt (projections/views/records.py). Its rows are kept small
(docs/architecture.md, "Read-model storage"): registrations, sessions and entity types as
numbers the log alone determines (`reg_no`: 1, 2, 3, ... in the order registrations first
start a session; `sess_no`: the position of a session's `Started` event; `et`:
projections/views/entity_types.py), digests as bytes when lossless (projections/digests.py),
the batch's time once per batch (`view_receipt_batches`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.digests import pack
from projections.events import Event
from projections.store import Tx
from projections.views.base import Table, View
from projections.views.entity_types import TABLE as ENTITY_TYPES
from projections.views.entity_types import EntityTypes
from projections.views.records import Records


class ReceiptsView(View):
    name = "receipts"
    tables = (
        ENTITY_TYPES,
        Table(
            "view_receipt_registrations",
            # receipts: how many of its records are current (kept here: counting them was
            # a walk of every record of the registration per read and per list item).
            "registration_id CTEXT NOT NULL, reg_no INT4 NOT NULL, receipts BIGINT NOT NULL",
            ("registration_id",),
        ),
        Table(
            "view_receipt_sessions",
            "sess_no BIGINT NOT NULL, registration_id CTEXT NOT NULL, "
            "session_id CTEXT NOT NULL, agg_id CTEXT NOT NULL, reg_no INT4 NOT NULL, "
            "seq BIGINT NOT NULL, deleted BIGINT NOT NULL",
            ("sess_no",),
            (("registration_id", "session_id"), ("agg_id",)),
        ),
        Table(
            "view_receipt_resets",
            "registration_id CTEXT NOT NULL, chain CTEXT NOT NULL, cutoff BIGINT NOT NULL, "
            "active BIGINT NOT NULL",
            ("registration_id", "chain"),
        ),
        Table(
            "view_receipt_batches",
            "position BIGINT NOT NULL, synced_at BIGINT",
            ("position",),
        ),
        Table(
            "view_session_records",
            "sess_no BIGINT NOT NULL, position BIGINT NOT NULL, reg_no INT4 NOT NULL, "
            "et INT4 NOT NULL, cur FLAG NOT NULL, key CTEXT NOT NULL, digest DIGEST NOT NULL",
            ("sess_no", "et", "key"),
            # Every record of a key, the current one marked: receipts, diffs and counts
            # read it, deletions recompute from it. SQLite: with the digest, a diff reads
            # the index alone (one B-tree probe a record, as a table of receipts took).
            (("reg_no", "et", "key", "cur"),),
            without_rowid=True,
            sqlite_cover=((0, ("digest",)),),
        ),
        Table(
            "view_receipt_effects",
            "position BIGINT NOT NULL, unsynced BIGINT, restored BIGINT, skipped BIGINT",
            ("position",),
        ),
    )
    # The current receipts had a table of their own before they became a mark on the
    # session's record: a database that still has it is rebuilt (View.outdated).
    retired = ("view_receipts",)

    def __init__(self, shadow: bool = False) -> None:
        super().__init__(shadow)
        # Derived from events only (deterministic), so valid across rollbacks and swaps.
        self._sessions: dict[str, tuple[int, int, int]] = {}  # agg_id -> reg_no, sess_no, seq
        self._regs: dict[str, int] = {}  # registration_id -> reg_no
        self._types = EntityTypes(self.t[ENTITY_TYPES.name])
        self._records = Records(
            self.t["view_session_records"],
            self.t["view_receipt_sessions"],
            self.t["view_receipt_registrations"],
        )
        self._batches = f"INSERT INTO {self.t['view_receipt_batches']} VALUES (?, ?)"

    # --- event dispatch ----------------------------------------------------------------

    def apply(self, tx: Tx, events: Sequence[Event]) -> None:
        pending: list[tuple[Any, ...]] = []
        batches: list[tuple[int, int | None]] = []
        written: set[str] = set()
        number = self._types.numbers
        for e in events:
            k = e.kind
            if k == "Session.RecordsSynced":
                reg, sess, _ = self._session(tx, e.originator_id)
                pos, pg, records = e.position, tx.pg, e.state["records"]
                self._types.ensure(tx, {r[0] for r in records}, written)
                pending += [
                    (reg, sess, number[et], key, pack(digest, pg), pos)
                    for et, key, digest in records
                ]
                batches.append((pos, e.at))  # when, once per batch (not per record)
                continue
            if k not in HANDLED:
                continue
            self._records.write(tx, pending)
            pending = []
            getattr(self, HANDLED[k])(tx, e)
        self._records.write(tx, pending)
        tx.many(self._batches, batches)

    def _session(self, tx: Tx, agg_id: str) -> tuple[int, int, int]:
        found = self._sessions.get(agg_id)
        if found is None:
            row = tx.one(
                f"SELECT reg_no, sess_no, seq FROM {self.t['view_receipt_sessions']} "
                "WHERE agg_id = ?",
                (agg_id,),
            )
            if row is None:
                raise LookupError(f"session aggregate {agg_id} has no Started event")
            found = (int(row[0]), int(row[1]), int(row[2]))
            self._sessions[agg_id] = found
        return found

    def _reg_no(self, tx: Tx, rid: str) -> int | None:
        found = self._regs.get(rid)
        if found is None:
            row = tx.one(
                f"SELECT reg_no FROM {self.t['view_receipt_registrations']} "
                "WHERE registration_id = ?",
                (rid,),
            )
            if row is None:
                return None
            found = self._regs[rid] = int(row[0])
        return found

    def _started(self, tx: Tx, e: Event) -> None:
        s = e.state
        rid, seq = str(s["registration_id"]), int(s["seq"])
        regs = self.t["view_receipt_registrations"]
        # A registration's number is the next one when it first starts a session (4 bytes
        # a record where a position took 8). The row is always written (the cache may
        # outlive a rolled-back page, which gives the same numbers when applied again).
        reg = self._reg_no(tx, rid)
        if reg is None:
            row = tx.one(f"SELECT COALESCE(MAX(reg_no), 0) + 1 FROM {regs}")
            assert row is not None
            reg = self._regs[rid] = int(row[0])
        tx.x(f"INSERT INTO {regs} VALUES (?, ?, 0) ON CONFLICT DO NOTHING", (rid, reg))
        tx.x(
            f"INSERT INTO {self.t['view_receipt_sessions']} VALUES (?, ?, ?, ?, ?, ?, 0)",
            (e.position, rid, s["session_id"], e.originator_id, reg, seq),
        )
        self._sessions[e.originator_id] = (reg, e.position, seq)

    # --- removal and restoration --------------------------------------------------------

    def _cutoff(self, tx: Tx, rid: str) -> int:
        row = tx.one(
            f"SELECT MAX(cutoff) FROM {self.t['view_receipt_resets']} "
            "WHERE registration_id = ? AND active = 1",
            (rid,),
        )
        return int(row[0]) if row and row[0] is not None else 0

    def _effect(
        self, tx: Tx, e: Event, unsynced: int | None, restored: int | None, skipped: int | None
    ) -> None:
        tx.x(
            f"INSERT INTO {self.t['view_receipt_effects']} VALUES (?, ?, ?, ?)",
            (e.position, unsynced, restored, skipped),
        )

    def _set_deleted(self, tx: Tx, e: Event, deleted: int) -> tuple[str, int]:
        _, sess, _ = self._session(tx, e.originator_id)
        row = tx.one(
            f"UPDATE {self.t['view_receipt_sessions']} SET deleted = ? WHERE sess_no = ? "
            "RETURNING registration_id",
            (deleted, sess),
        )
        assert row is not None
        return str(row[0]), sess

    def _deleted(self, tx: Tx, e: Event) -> None:
        """Rule 6: the receipts the session held fall back to the newest older session
        not removed that synced the same record (only the keys it held are recomputed)."""
        rid, sess = self._set_deleted(tx, e, 1)
        records = self._records
        unsynced = records.count(tx, sess, current_only=True)
        if unsynced:
            records.recompute(tx, self._cutoff(tx, rid), records.keys_of(tx, True), (sess,))
            records.recount(tx, rid)
        self._effect(tx, e, unsynced, None, None)

    def _restored(self, tx: Tx, e: Event) -> None:
        """Rule 8: the session's records are current again unless a newer session synced
        the same record since (skipped)."""
        rid, sess = self._set_deleted(tx, e, 0)
        records = self._records
        records.recompute(tx, self._cutoff(tx, rid), records.keys_of(tx, False), (sess,))
        records.recount(tx, rid)
        restored = records.count(tx, sess, current_only=True)
        total = records.count(tx, sess, current_only=False)
        self._effect(tx, e, None, restored, total - restored)

    def _reset(self, tx: Tx, e: Event) -> None:
        """Rule 7: every receipt from a session with seq <= cutoff unsyncs; no record of
        those sessions is current any more, and none of a later one was older."""
        rid, s = e.originator_id, e.state
        chain, cutoff = s.get("chain") or str(e.version), int(s["cutoff"])
        resets = self.t["view_receipt_resets"]
        tx.x(f"DELETE FROM {resets} WHERE registration_id = ? AND chain = ?", (rid, chain))
        tx.x(f"INSERT INTO {resets} VALUES (?, ?, ?, 1)", (rid, chain, cutoff))
        reg = self._reg_no(tx, rid)
        unsynced = 0
        if reg is not None:
            sr, rs = self.t["view_session_records"], self.t["view_receipt_sessions"]
            unsynced = tx.x(
                f"UPDATE {sr} SET cur = FALSE WHERE reg_no = ? AND cur AND sess_no <= "
                f"(SELECT MAX(sess_no) FROM {rs} WHERE reg_no = ? AND seq <= ?)",
                (reg, reg, cutoff),
            )
            self._records.count_changed(tx, {reg: -unsynced})
        self._effect(tx, e, unsynced, None, None)

    def _reset_undone(self, tx: Tx, e: Event) -> None:
        rid, chain = e.originator_id, e.state["chain"]
        resets = self.t["view_receipt_resets"]
        row = tx.one(
            f"SELECT cutoff FROM {resets} WHERE registration_id = ? AND chain = ?", (rid, chain)
        )
        top = int(row[0]) if row else 0
        tx.x(
            f"UPDATE {resets} SET active = 0 WHERE registration_id = ? AND chain = ?", (rid, chain)
        )
        reg = self._reg_no(tx, rid)
        if reg is None:
            self._effect(tx, e, None, 0, 0)
            return
        low = self._cutoff(tx, rid)
        records = self._records
        records.recompute(tx, low, records.of_registration(), (reg,))
        records.recount(tx, rid)
        sr, rs = self.t["view_session_records"], self.t["view_receipt_sessions"]
        found = tx.one(
            f"SELECT COUNT(*) FROM {sr} sr JOIN {rs} rs ON rs.sess_no = sr.sess_no "
            "WHERE sr.reg_no = ? AND sr.cur AND rs.seq > ? AND rs.seq <= ?",
            (reg, low, top),
        )
        restored = int(found[0]) if found else 0
        keys = tx.one(
            f"SELECT COUNT(*) FROM (SELECT DISTINCT sr.et, sr.key FROM {sr} sr "
            f"JOIN {rs} rs ON rs.sess_no = sr.sess_no WHERE sr.reg_no = ? "
            "AND rs.reg_no = sr.reg_no AND rs.deleted = 0 "
            "AND rs.seq > ? AND rs.seq <= ?) x",
            (reg, low, top),
        )
        total = int(keys[0]) if keys else 0
        self._effect(tx, e, None, restored, total - restored)


HANDLED = {
    "Session.Started": "_started",
    "Session.Deleted": "_deleted",
    "Session.Restored": "_restored",
    "Registration.RegistrationReset": "_reset",
    "Registration.ResetUndone": "_reset_undone",
}
