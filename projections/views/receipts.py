"""Receipts: each session's own records, and the current receipt per record.

The current receipt of (registration, entity_type, key) is the newest record (by session
seq, then position) among sessions that are not removed (deleted, or seq <= the cutoff of
a reset in force). Deletions, resets and their undos recompute the affected keys with
set-based SQL; their effect (receipts unsynced / restored / skipped) is kept per position.

The two big tables (`view_session_records`, `view_receipts`) hold a row per record, kept
small (docs/architecture.md, "Read-model storage"): registrations, sessions and entity
types as numbers the log alone determines (`reg_no`, `sess_no`: the positions of the first
`Started` events; `et`: projections/views/entity_types.py), digests as bytes when lossless
(projections/digests.py), the batch's time once per batch (`view_receipt_batches`).
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from projections.digests import pack
from projections.events import Event
from projections.store import Tx
from projections.views.base import Table, View
from projections.views.entity_types import TABLE as ENTITY_TYPES
from projections.views.entity_types import EntityTypes
from projections.views.pgstage import STAGE, stage

# Column order of the rows built per record; both tables are written from the same tuples
# (a session record's seq is its session's, in view_receipt_sessions).
ROW_COLS = "reg_no, sess_no, seq, et, key, digest, position"
RECORD_COLS = "reg_no, sess_no, et, key, digest, position"
SESSION_KEY = itemgetter(1, 3, 4)  # sess_no, et, key of a row
RECEIPT_KEY = itemgetter(0, 3, 4)  # reg_no, et, key
PLAIN_MIN_ROWS = 2_000  # PostgreSQL: pages this big try a plain INSERT before the upsert
UPSERT_PAGES = 8  # ... except for this many pages after one met an existing key


class ReceiptsView(View):
    name = "receipts"
    tables = (
        ENTITY_TYPES,
        Table(
            "view_receipt_registrations",
            "registration_id CTEXT NOT NULL, reg_no BIGINT NOT NULL",
            ("registration_id",),
        ),
        Table(
            "view_receipt_sessions",
            "sess_no BIGINT NOT NULL, registration_id CTEXT NOT NULL, "
            "session_id CTEXT NOT NULL, agg_id CTEXT NOT NULL, reg_no BIGINT NOT NULL, "
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
            "reg_no BIGINT NOT NULL, sess_no BIGINT NOT NULL, "
            "et BIGINT NOT NULL, key CTEXT NOT NULL, digest DIGEST NOT NULL, "
            "position BIGINT NOT NULL",
            ("sess_no", "et", "key"),
            (("reg_no", "et", "key"),),  # every record of a key (_keys_of, _recompute)
            without_rowid=True,
            pg_hash=(0,),
        ),
        Table(
            "view_receipts",
            "reg_no BIGINT NOT NULL, et BIGINT NOT NULL, key CTEXT NOT NULL, "
            "digest DIGEST NOT NULL, sess_no BIGINT NOT NULL, seq BIGINT NOT NULL, "
            "position BIGINT NOT NULL",
            ("reg_no", "et", "key"),
            without_rowid=True,
        ),
        Table(
            "view_receipt_effects",
            "position BIGINT NOT NULL, unsynced BIGINT, restored BIGINT, skipped BIGINT",
            ("position",),
        ),
    )

    def __init__(self, shadow: bool = False) -> None:
        super().__init__(shadow)
        # Derived from events only (deterministic), so valid across rollbacks and swaps.
        self._sessions: dict[str, tuple[int, int, int]] = {}  # agg_id -> reg_no, sess_no, seq
        self._regs: dict[str, int] = {}  # registration_id -> reg_no
        self._staged: list[tuple[Any, ...]] = []
        self._upsert_only: dict[str, int] = {}  # statement -> pages left before a retry
        self._types = EntityTypes(self.t[ENTITY_TYPES.name])
        sr, r = self.t["view_session_records"], self.t["view_receipts"]
        self._newer = (
            "ON CONFLICT (reg_no, et, key) DO UPDATE SET "
            "digest = excluded.digest, sess_no = excluded.sess_no, seq = excluded.seq, "
            "position = excluded.position "
            f"WHERE excluded.seq > {r}.seq OR "
            f"(excluded.seq = {r}.seq AND excluded.position > {r}.position)"
        )
        self._record_upsert = (
            "ON CONFLICT (sess_no, et, key) DO UPDATE SET "
            "digest = excluded.digest, position = excluded.position"
        )
        marks = ", ".join("?" for _ in ROW_COLS.split(","))
        self._sqlite_records = (  # the same tuples: numbered parameters skip seq (?3)
            f"INSERT INTO {sr} ({RECORD_COLS}) VALUES (?1, ?2, ?4, ?5, ?6, ?7) "
            f"{self._record_upsert}"
        )
        self._sqlite_receipts = f"INSERT INTO {r} ({ROW_COLS}) VALUES ({marks}) {self._newer}"
        # PostgreSQL: rows are COPYed into a temporary staging table, then each table gets
        # one set-based statement: a plain INSERT first (about 1.5x faster than ON CONFLICT,
        # whose speculative insertion costs an extra index probe and WAL record per row),
        # and the upsert only if some key already has a row.
        insert = "INSERT INTO {0} ({1}) SELECT {1} FROM " + STAGE
        records, receipts = insert.format(sr, RECORD_COLS), insert.format(r, ROW_COLS)
        self._pg_records = (records, f"{records} {self._record_upsert}")
        self._pg_receipts = (receipts, f"{receipts} {self._newer}")
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
                reg, sess, seq = self._session(tx, e.originator_id)
                pos, pg, records = e.position, tx.pg, e.state["records"]
                self._types.ensure(tx, {r[0] for r in records}, written)
                pending += [
                    (reg, sess, seq, number[et], key, pack(digest, pg), pos)
                    for et, key, digest in records
                ]
                batches.append((pos, e.at))  # when, once per batch (not per record)
                continue
            if k not in HANDLED:
                continue
            self._flush(tx, pending)
            pending = []
            getattr(self, HANDLED[k])(tx, e)
        self._flush(tx, pending)
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
        # Always write (the cache may outlive a rolled-back page); the first one stays.
        tx.x(
            f"INSERT INTO {self.t['view_receipt_registrations']} VALUES (?, ?) "
            "ON CONFLICT DO NOTHING",
            (rid, e.position),
        )
        reg = self._reg_no(tx, rid)
        assert reg is not None
        tx.x(
            f"INSERT INTO {self.t['view_receipt_sessions']} VALUES (?, ?, ?, ?, ?, ?, 0)",
            (e.position, rid, s["session_id"], e.originator_id, reg, seq),
        )
        self._sessions[e.originator_id] = (reg, e.position, seq)

    # --- records ------------------------------------------------------------------------

    def _flush(self, tx: Tx, rows: list[tuple[Any, ...]]) -> None:
        """Write records in log order: a later record of a key wins in both tables."""
        if not rows:
            return
        if not tx.pg:
            # executemany runs the upserts one after another, so duplicates need no care.
            tx.conn.executemany(self._sqlite_records, rows)
            tx.conn.executemany(self._sqlite_receipts, rows)
            return
        # ON CONFLICT may touch a row once per statement: if a key occurs twice in the
        # page (rare), keep its last record, and for receipts its newest (seq, position).
        records = rows
        if len(set(map(SESSION_KEY, rows))) != len(rows):
            records = list({SESSION_KEY(row): row for row in rows}.values())
        receipts = records
        if len(set(map(RECEIPT_KEY, records))) != len(records):
            newest: dict[tuple[Any, ...], tuple[Any, ...]] = {}
            for row in records:
                key = RECEIPT_KEY(row)
                current = newest.get(key)
                if current is None or (row[2], row[6]) >= (current[2], current[6]):
                    newest[key] = row
            receipts = list(newest.values())
        self._stage(tx, records)
        self._pg_write(tx, *self._pg_records)
        if receipts is not records:
            self._stage(tx, receipts)
        self._pg_write(tx, *self._pg_receipts)

    def _pg_write(self, tx: Tx, insert: str, upsert: str) -> None:
        """A big page first tries the plain INSERT under a savepoint; on a duplicate key it
        is rolled back (the INSERT stops at the first existing key) and the upsert runs.
        After a conflict the next few pages go straight to the upsert, so a stretch of
        re-synced keys neither pays twice nor fills the server log with errors."""
        from psycopg import errors

        if len(self._staged) >= PLAIN_MIN_ROWS and self._upsert_only.get(insert, 0) <= 0:
            try:
                with tx.conn.transaction():
                    tx.conn.execute(insert)
                return
            except errors.UniqueViolation:
                self._upsert_only[insert] = UPSERT_PAGES
        else:
            self._upsert_only[insert] = self._upsert_only.get(insert, 0) - 1
        tx.conn.execute(upsert)

    def _stage(self, tx: Tx, rows: list[tuple[Any, ...]]) -> None:
        self._staged = rows
        stage(tx, rows)

    # --- removal and restoration --------------------------------------------------------

    def _cutoff(self, tx: Tx, rid: str) -> int:
        row = tx.one(
            f"SELECT MAX(cutoff) FROM {self.t['view_receipt_resets']} "
            "WHERE registration_id = ? AND active = 1",
            (rid,),
        )
        return int(row[0]) if row and row[0] is not None else 0

    def _recompute(
        self,
        tx: Tx,
        rid: str,
        reg: int,
        source: str,
        source_params: Sequence[Any],
        where: str = "1 = 1",
        where_params: Sequence[Any] = (),
    ) -> None:
        """Upsert the newest non-removed record (alias sr) of every key that `source` and
        `where` select."""
        rs = self.t["view_receipt_sessions"]
        cols = ", ".join(("rs.seq" if c == "seq" else f"sr.{c}") for c in ROW_COLS.split(", "))
        tx.x(
            f"INSERT INTO {self.t['view_receipts']} ({ROW_COLS}) "
            f"SELECT {ROW_COLS} FROM (SELECT {cols}, ROW_NUMBER() OVER "
            "(PARTITION BY sr.et, sr.key ORDER BY rs.seq DESC, sr.position DESC) AS rn "
            f"FROM {source} JOIN {rs} rs ON rs.sess_no = sr.sess_no "
            f"WHERE sr.reg_no = ? AND rs.reg_no = sr.reg_no AND rs.deleted = 0 AND rs.seq > ? "
            f"AND {where}) x "
            f"WHERE rn = 1 {self._newer}",
            (*source_params, reg, self._cutoff(tx, rid), *where_params),
        )

    def _keys_of(self, tx: Tx) -> str:
        """Every record (sr) of the keys a session (the parameter) synced, found from its
        keys (SQLite: CROSS JOIN fixes that join order, instead of scanning every record of
        the registration)."""
        sr, join = self.t["view_session_records"], "JOIN" if tx.pg else "CROSS JOIN"
        return (
            f"{sr} k {join} {sr} sr ON sr.reg_no = +k.reg_no AND sr.et = k.et "
            "AND sr.key = k.key AND k.sess_no = ?"
        )

    def _effect(
        self, tx: Tx, e: Event, unsynced: int | None, restored: int | None, skipped: int | None
    ) -> None:
        tx.x(
            f"INSERT INTO {self.t['view_receipt_effects']} VALUES (?, ?, ?, ?)",
            (e.position, unsynced, restored, skipped),
        )

    def _set_deleted(self, tx: Tx, e: Event, deleted: int) -> tuple[str, int, int]:
        reg, sess, _ = self._session(tx, e.originator_id)
        row = tx.one(
            f"UPDATE {self.t['view_receipt_sessions']} SET deleted = ? WHERE sess_no = ? "
            "RETURNING registration_id",
            (deleted, sess),
        )
        assert row is not None
        return str(row[0]), reg, sess

    def _deleted(self, tx: Tx, e: Event) -> None:
        rid, reg, sess = self._set_deleted(tx, e, 1)
        sr, r = self.t["view_session_records"], self.t["view_receipts"]
        if tx.pg:
            unsynced = tx.x(
                f"DELETE FROM {r} WHERE sess_no = ? AND (reg_no, et, key) IN "
                f"(SELECT reg_no, et, key FROM {sr} WHERE sess_no = ?)",
                (sess, sess),
            )
        else:  # from the session's keys, by primary key (not a scan of the registration's)
            keys = tx.q(
                f"SELECT k.reg_no, k.et, k.key FROM {sr} k CROSS JOIN {r} r "
                "ON r.reg_no = k.reg_no AND r.et = k.et AND r.key = k.key "
                "WHERE k.sess_no = ? AND r.sess_no = ?",
                (sess, sess),
            )
            tx.many(f"DELETE FROM {r} WHERE reg_no = ? AND et = ? AND key = ?", keys)
            unsynced = len(keys)
        if unsynced:
            self._recompute(tx, rid, reg, self._keys_of(tx), (sess,))
        self._effect(tx, e, unsynced, None, None)

    def _restored(self, tx: Tx, e: Event) -> None:
        rid, reg, sess = self._set_deleted(tx, e, 0)
        self._recompute(tx, rid, reg, self._keys_of(tx), (sess,))
        sr, r = self.t["view_session_records"], self.t["view_receipts"]
        row = tx.one(
            f"SELECT COUNT(*), COUNT(r.sess_no) FROM {sr} k LEFT JOIN {r} r "
            "ON r.reg_no = k.reg_no AND r.et = k.et AND r.key = k.key "
            "AND r.sess_no = k.sess_no WHERE k.sess_no = ?",
            (sess,),
        )
        total, restored = (int(row[0]), int(row[1])) if row else (0, 0)
        self._effect(tx, e, None, restored, total - restored)

    def _reset(self, tx: Tx, e: Event) -> None:
        rid, s = e.originator_id, e.state
        chain, cutoff = s.get("chain") or str(e.version), int(s["cutoff"])
        resets = self.t["view_receipt_resets"]
        tx.x(f"DELETE FROM {resets} WHERE registration_id = ? AND chain = ?", (rid, chain))
        tx.x(f"INSERT INTO {resets} VALUES (?, ?, ?, 1)", (rid, chain, cutoff))
        reg = self._reg_no(tx, rid)
        unsynced = (
            0
            if reg is None
            else tx.x(
                f"DELETE FROM {self.t['view_receipts']} WHERE reg_no = ? AND seq <= ?",
                (reg, cutoff),
            )
        )
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
        sr, rs, r = (
            self.t["view_session_records"],
            self.t["view_receipt_sessions"],
            self.t["view_receipts"],
        )
        self._recompute(tx, rid, reg, f"{sr} sr", (), "rs.seq <= ?", (top,))
        found = tx.one(
            f"SELECT COUNT(*) FROM {r} WHERE reg_no = ? AND seq > ? AND seq <= ?", (reg, low, top)
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
