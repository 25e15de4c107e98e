"""Receipts: each session's own records, and the current receipt per record.

The current receipt of (registration, entity_type, key) is the newest record (by session
seq, then position) among sessions that are not removed (deleted, or seq <= the cutoff of
a reset in force). Deletions, resets and their undos recompute the affected keys with
set-based SQL; their effect (receipts unsynced / restored / skipped) is kept per position.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.events import Event
from projections.store import Tx
from projections.views.base import Table, View

RECEIPT_COLS = "registration_id, entity_type, key, digest, session_id, seq, synced_at, position"
RECORD_COLS = "registration_id, session_id, seq, entity_type, key, digest, synced_at, position"


class ReceiptsView(View):
    name = "receipts"
    tables = (
        Table(
            "view_receipt_sessions",
            "registration_id TEXT NOT NULL, session_id TEXT NOT NULL, agg_id TEXT NOT NULL, "
            "seq BIGINT NOT NULL, deleted BIGINT NOT NULL",
            ("registration_id", "session_id"),
            (("agg_id",),),
        ),
        Table(
            "view_receipt_resets",
            "registration_id TEXT NOT NULL, chain TEXT NOT NULL, cutoff BIGINT NOT NULL, "
            "active BIGINT NOT NULL",
            ("registration_id", "chain"),
        ),
        Table(
            "view_session_records",
            "registration_id TEXT NOT NULL, session_id TEXT NOT NULL, seq BIGINT NOT NULL, "
            "entity_type TEXT NOT NULL, key TEXT NOT NULL, digest TEXT NOT NULL, "
            "synced_at BIGINT, position BIGINT NOT NULL",
            ("registration_id", "session_id", "entity_type", "key"),
            (("registration_id", "entity_type", "key"),),
        ),
        Table(
            "view_receipts",
            "registration_id TEXT NOT NULL, entity_type TEXT NOT NULL, key TEXT NOT NULL, "
            "digest TEXT NOT NULL, session_id TEXT NOT NULL, seq BIGINT NOT NULL, "
            "synced_at BIGINT, position BIGINT NOT NULL",
            ("registration_id", "entity_type", "key"),
            (("registration_id", "session_id"),),
        ),
        Table(
            "view_receipt_effects",
            "position BIGINT NOT NULL, unsynced BIGINT, restored BIGINT, skipped BIGINT",
            ("position",),
        ),
    )

    def __init__(self, shadow: bool = False) -> None:
        super().__init__(shadow)
        self._sessions: dict[str, tuple[str, str, int]] = {}
        r = self.t["view_receipts"]
        self._newer = (
            f"ON CONFLICT (registration_id, entity_type, key) DO UPDATE SET "
            "digest = excluded.digest, session_id = excluded.session_id, seq = excluded.seq, "
            "synced_at = excluded.synced_at, position = excluded.position "
            f"WHERE excluded.seq > {r}.seq OR "
            f"(excluded.seq = {r}.seq AND excluded.position > {r}.position)"
        )

    # --- event dispatch ----------------------------------------------------------------

    def apply(self, tx: Tx, events: Sequence[Event]) -> None:
        pending: list[tuple[Any, ...]] = []
        for e in events:
            k = e.kind
            if k == "Session.RecordsSynced":
                rid, sid, seq = self._session(tx, e.originator_id)
                at, pos = e.at, e.position
                pending.extend(
                    (rid, sid, seq, et, key, digest, at, pos)
                    for et, key, digest in e.state["records"]
                )
                continue
            if k not in HANDLED:
                continue
            self._flush(tx, pending)
            pending = []
            getattr(self, HANDLED[k])(tx, e)
        self._flush(tx, pending)

    def _session(self, tx: Tx, agg_id: str) -> tuple[str, str, int]:
        found = self._sessions.get(agg_id)
        if found is None:
            row = tx.one(
                f"SELECT registration_id, session_id, seq FROM {self.t['view_receipt_sessions']} "
                "WHERE agg_id = ?",
                (agg_id,),
            )
            if row is None:
                raise LookupError(f"session aggregate {agg_id} has no Started event")
            found = (str(row[0]), str(row[1]), int(row[2]))
            self._sessions[agg_id] = found
        return found

    def _started(self, tx: Tx, e: Event) -> None:
        s = e.state
        tx.x(
            f"INSERT INTO {self.t['view_receipt_sessions']} VALUES (?, ?, ?, ?, 0)",
            (s["registration_id"], s["session_id"], e.originator_id, s["seq"]),
        )
        self._sessions[e.originator_id] = (s["registration_id"], s["session_id"], int(s["seq"]))

    # --- records ------------------------------------------------------------------------

    def _flush(self, tx: Tx, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        records: dict[tuple[str, str, str, str], tuple[Any, ...]] = {}
        receipts: dict[tuple[str, str, str], tuple[Any, ...]] = {}
        for row in rows:
            rid, sid, seq, et, key, digest, at, pos = row
            records[(rid, sid, et, key)] = row
            current = receipts.get((rid, et, key))
            if current is None or seq >= current[5]:
                receipts[(rid, et, key)] = (rid, et, key, digest, sid, seq, at, pos)
        sr, r = self.t["view_session_records"], self.t["view_receipts"]
        upsert_record = (
            "ON CONFLICT (registration_id, session_id, entity_type, key) DO UPDATE SET "
            "digest = excluded.digest, synced_at = excluded.synced_at, "
            "position = excluded.position"
        )
        self._insert(tx, sr, RECORD_COLS, list(records.values()), upsert_record,
                     ("text", "text", "bigint", "text", "text", "text", "bigint", "bigint"))
        self._insert(tx, r, RECEIPT_COLS, list(receipts.values()), self._newer,
                     ("text", "text", "text", "text", "text", "bigint", "bigint", "bigint"))

    def _insert(self, tx: Tx, table: str, cols: str, rows: list[tuple[Any, ...]],
                conflict: str, types: tuple[str, ...]) -> None:
        if tx.pg:
            arrays = [list(c) for c in zip(*rows, strict=True)]
            casts = ", ".join(f"?::{t}[]" for t in types)
            tx.x(f"INSERT INTO {table} ({cols}) SELECT * FROM unnest({casts}) {conflict}", arrays)
        else:
            marks = ", ".join("?" for _ in types)
            tx.many(f"INSERT INTO {table} ({cols}) VALUES ({marks}) {conflict}", rows)

    # --- removal and restoration --------------------------------------------------------

    def _cutoff(self, tx: Tx, rid: str) -> int:
        row = tx.one(
            f"SELECT MAX(cutoff) FROM {self.t['view_receipt_resets']} "
            "WHERE registration_id = ? AND active = 1",
            (rid,),
        )
        return int(row[0]) if row and row[0] is not None else 0

    def _recompute(self, tx: Tx, rid: str, where: str, params: Sequence[Any]) -> None:
        """Upsert the newest non-removed record of every key matching `where` (alias sr)."""
        sr, rs = self.t["view_session_records"], self.t["view_receipt_sessions"]
        tx.x(
            f"INSERT INTO {self.t['view_receipts']} ({RECEIPT_COLS}) "
            f"SELECT {RECEIPT_COLS} FROM (SELECT sr.registration_id, sr.entity_type, sr.key, "
            "sr.digest, sr.session_id, sr.seq, sr.synced_at, sr.position, ROW_NUMBER() OVER "
            "(PARTITION BY sr.entity_type, sr.key ORDER BY sr.seq DESC, sr.position DESC) AS rn "
            f"FROM {sr} sr JOIN {rs} rs ON rs.registration_id = sr.registration_id "
            "AND rs.session_id = sr.session_id "
            f"WHERE sr.registration_id = ? AND rs.deleted = 0 AND sr.seq > ? AND {where}) x "
            f"WHERE rn = 1 {self._newer}",
            (rid, self._cutoff(tx, rid), *params),
        )

    def _effect(self, tx: Tx, e: Event, unsynced: int | None, restored: int | None,
                skipped: int | None) -> None:
        tx.x(f"INSERT INTO {self.t['view_receipt_effects']} VALUES (?, ?, ?, ?)",
             (e.position, unsynced, restored, skipped))

    def _same_keys(self, sid_param: str = "?") -> str:
        sr = self.t["view_session_records"]
        return (
            f"EXISTS (SELECT 1 FROM {sr} k WHERE k.registration_id = sr.registration_id "
            f"AND k.session_id = {sid_param} AND k.entity_type = sr.entity_type "
            "AND k.key = sr.key)"
        )

    def _set_deleted(self, tx: Tx, e: Event, deleted: int) -> tuple[str, str]:
        rid, sid, _ = self._session(tx, e.originator_id)
        tx.x(
            f"UPDATE {self.t['view_receipt_sessions']} SET deleted = ? "
            "WHERE registration_id = ? AND session_id = ?",
            (deleted, rid, sid),
        )
        return rid, sid

    def _deleted(self, tx: Tx, e: Event) -> None:
        rid, sid = self._set_deleted(tx, e, 1)
        unsynced = tx.x(
            f"DELETE FROM {self.t['view_receipts']} WHERE registration_id = ? AND session_id = ?",
            (rid, sid),
        )
        if unsynced:
            self._recompute(tx, rid, self._same_keys(), (sid,))
        self._effect(tx, e, unsynced, None, None)

    def _restored(self, tx: Tx, e: Event) -> None:
        rid, sid = self._set_deleted(tx, e, 0)
        self._recompute(tx, rid, self._same_keys(), (sid,))
        restored = self._count(tx, "view_receipts", rid, "session_id = ?", (sid,))
        total = self._count(tx, "view_session_records", rid, "session_id = ?", (sid,))
        self._effect(tx, e, None, restored, total - restored)

    def _count(self, tx: Tx, table: str, rid: str, where: str, params: Sequence[Any]) -> int:
        row = tx.one(
            f"SELECT COUNT(*) FROM {self.t[table]} WHERE registration_id = ? AND {where}",
            (rid, *params),
        )
        return int(row[0]) if row else 0

    def _reset(self, tx: Tx, e: Event) -> None:
        rid, s = e.originator_id, e.state
        chain, cutoff = s.get("chain") or str(e.version), int(s["cutoff"])
        resets = self.t["view_receipt_resets"]
        tx.x(f"DELETE FROM {resets} WHERE registration_id = ? AND chain = ?", (rid, chain))
        tx.x(f"INSERT INTO {resets} VALUES (?, ?, ?, 1)", (rid, chain, cutoff))
        unsynced = tx.x(
            f"DELETE FROM {self.t['view_receipts']} WHERE registration_id = ? AND seq <= ?",
            (rid, cutoff),
        )
        self._effect(tx, e, unsynced, None, None)

    def _reset_undone(self, tx: Tx, e: Event) -> None:
        rid, chain = e.originator_id, e.state["chain"]
        resets = self.t["view_receipt_resets"]
        row = tx.one(f"SELECT cutoff FROM {resets} WHERE registration_id = ? AND chain = ?",
                     (rid, chain))
        top = int(row[0]) if row else 0
        tx.x(f"UPDATE {resets} SET active = 0 WHERE registration_id = ? AND chain = ?",
             (rid, chain))
        low = self._cutoff(tx, rid)
        self._recompute(tx, rid, "sr.seq <= ?", (top,))
        restored = self._count(tx, "view_receipts", rid, "seq > ? AND seq <= ?", (low, top))
        sr, rs = self.t["view_session_records"], self.t["view_receipt_sessions"]
        keys = tx.one(
            f"SELECT COUNT(*) FROM (SELECT DISTINCT sr.entity_type, sr.key FROM {sr} sr "
            f"JOIN {rs} rs ON rs.registration_id = sr.registration_id "
            "AND rs.session_id = sr.session_id WHERE sr.registration_id = ? AND rs.deleted = 0 "
            "AND sr.seq > ? AND sr.seq <= ?) x",
            (rid, low, top),
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
