"""A page's records into `view_session_records`, each marked whether it holds the current
receipt of its key (`cur`), and the set-based recomputation of that mark.

The current receipt of (registration, entity type, key) is the newest record among the
sessions not removed (rules 6-8). Within a registration the sessions' numbers (`sess_no`,
the position of their `Started` event) are in the order of their `seq`: a start takes seq
n + 1 from the registration it saves in the same transaction (domain/slots.py,
`open_session`), so two starts conflict on its version and commit in seq order, and
positions follow commit order. A session holds one record per key, so "newest" is the
greatest `sess_no`.

One row per record is the whole cost of a receipt (docs/architecture.md, "Read-model
storage"): there is no second table of current receipts to keep in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.store import Tx
from projections.views.pgstage import STAGE, stage

# A record as the view builds it: (reg_no, sess_no, et, key, digest, position).
REG, SESS, ET, KEY, DIGEST, POS = range(6)
# The table's columns in their order (fixed-width first: no padding before the text).
COLS = "sess_no, position, reg_no, et, cur, key, digest"
PLAIN_MIN_ROWS = 2_000  # PostgreSQL: pages this big with no existing receipt try a plain INSERT
SQLITE_CHUNK = 2_000  # SQLite: records written per round of lookups, marks and inserts
SQLITE_PROBE_CHUNK = 400  # (et, key) pairs per probe statement (SQLite: 32,766 parameters)

Row = tuple[Any, ...]


def newest_flags(rows: Sequence[Row]) -> list[bool]:
    """For each row, is it of the newest session among the page's rows of its key? Only
    those can become current (a page of one session: all of them)."""
    if len({r[SESS] for r in rows}) == 1:
        return [True] * len(rows)
    newest: dict[tuple[Any, ...], int] = {}
    for row in rows:
        key = (row[REG], row[ET], row[KEY])
        if newest.get(key, -1) < row[SESS]:
            newest[key] = row[SESS]
    return [newest[(r[REG], r[ET], r[KEY])] == r[SESS] for r in rows]


def last_of_each(rows: Sequence[Row]) -> Sequence[Row]:
    """The rows with a later record of the same session and key replacing an earlier one
    (PostgreSQL's ON CONFLICT may touch a row once per statement)."""
    keys = {(r[SESS], r[ET], r[KEY]) for r in rows}
    if len(keys) == len(rows):
        return rows
    return list({(r[SESS], r[ET], r[KEY]): r for r in rows}.values())


class Records:
    """Writes and recomputes `view_session_records` (real name `table`)."""

    def __init__(self, table: str, sessions: str, registrations: str) -> None:
        self.table, self.sessions, self.registrations = table, sessions, registrations
        t = table
        self._update = (
            "ON CONFLICT (sess_no, et, key) DO UPDATE SET "
            "digest = excluded.digest, position = excluded.position"
        )
        # SQLite: a superseded current record by its primary key, then the page's rows.
        self._sqlite_flip = f"UPDATE {t} SET cur = 0 WHERE sess_no = ? AND et = ? AND key = ?"
        self._sqlite_insert = (
            f"INSERT INTO {t} ({COLS}) VALUES (?, ?, ?, ?, ?, ?, ?) {self._update}"
        )
        insert = f"INSERT INTO {t} ({COLS}) SELECT {COLS} FROM " + STAGE
        self._pg_insert, self._pg_upsert = insert, f"{insert} {self._update}"

    # --- a page's records -----------------------------------------------------------------

    def write(self, tx: Tx, rows: Sequence[Row]) -> None:
        """Write records in log order: a later record of a (session, key) replaces its
        digest and position; a record of a newer session supersedes the current one.

        Each key that could become current is looked up once, for the session holding its
        receipt (one index probe a record, in one statement per page or chunk); the marks
        are decided here, and only superseded rows are written twice. SQLite ran a flip
        UPDATE and an INSERT with a NOT EXISTS probe for every record instead: a quarter
        of its catch-up rate (benchmarks/bench_projections.py)."""
        if not rows:
            return
        if not tx.pg and len(rows) > SQLITE_CHUNK:
            # In log order, chunk by chunk: each chunk's lookups see the ones before it, so
            # the marks are those of the whole page, and a rebuild's big pages do not hold
            # every record's row, flags and lookups at once (its peak memory, bench_projections).
            for start in range(0, len(rows), SQLITE_CHUNK):
                self.write(tx, rows[start : start + SQLITE_CHUNK])
            return
        kept = last_of_each(rows)
        newest = newest_flags(kept)
        candidates = [r for r, n in zip(kept, newest, strict=True) if n]
        found = self._pg_current(tx, candidates) if tx.pg else self._sqlite_current(tx, candidates)
        flips: list[Any] = []
        staged: list[Row] = []
        # A registration gains a receipt for each key that had none: a record superseding
        # another moves the receipt, it does not add one. (A key with a record of a live
        # session always has a current one: removed sessions take no records, rules 3-4.)
        gained: dict[Any, int] = {}
        for row, candidate in zip(kept, newest, strict=True):
            cur = candidate
            held = found.get((row[REG], row[ET], row[KEY])) if candidate else None
            if held is not None:
                if held[0] < row[SESS]:
                    flips.append(held[1])
                elif held[0] > row[SESS]:
                    cur = False  # a session that started later synced it already
            elif candidate:
                gained[row[REG]] = gained.get(row[REG], 0) + 1
            staged.append((row[SESS], row[POS], row[REG], row[ET], cur, row[KEY], row[DIGEST]))
        self.count_changed(tx, gained)
        if not tx.pg:
            tx.many(self._sqlite_flip, flips)
            tx.many(self._sqlite_insert, staged)
            return
        if flips:
            tx.conn.execute(
                f"UPDATE {self.table} SET cur = FALSE WHERE ctid = ANY(%s::tid[])", (flips,)
            )
        stage(tx, staged)
        if found or len(staged) < PLAIN_MIN_ROWS:
            tx.conn.execute(self._pg_upsert)
            return
        # No key of the page has a receipt yet, so normally none has a row either: a plain
        # INSERT (about 1.5x faster than ON CONFLICT, whose speculative insertion costs an
        # extra index probe and WAL record per row), rolled back for the upsert if a row
        # of a removed session is in the way.
        from psycopg import errors

        try:
            with tx.conn.transaction():
                tx.conn.execute(self._pg_insert)
        except errors.UniqueViolation:
            tx.conn.execute(self._pg_upsert)

    def _sqlite_current(
        self, tx: Tx, rows: Sequence[Row]
    ) -> dict[tuple[Any, ...], tuple[int, tuple[int, int, str]]]:
        """(reg_no, et, key) -> (sess_no, its primary key) of the current record of each
        row's key that has one: per registration, chunks of (et, key) pairs, each probed
        through the index on (reg_no, et, key, ...)."""
        by_reg: dict[Any, list[tuple[Any, Any]]] = {}
        for r in rows:
            by_reg.setdefault(r[REG], []).append((r[ET], r[KEY]))
        found: dict[tuple[Any, ...], tuple[int, tuple[int, int, str]]] = {}
        for reg, pairs in by_reg.items():
            for i in range(0, len(pairs), SQLITE_PROBE_CHUNK):
                chunk = pairs[i : i + SQLITE_PROBE_CHUNK]
                values = ", ".join("(?, ?)" for _ in chunk)
                params = [*(v for pair in chunk for v in pair), reg]
                # CROSS JOIN keeps the pairs outside: a probe each, where `(et, key) IN
                # (VALUES ...)` was planned as a scan of the registration's records.
                for et, key, sess in tx.conn.execute(
                    f"WITH p(e, k) AS (VALUES {values}) SELECT t.et, t.key, t.sess_no "
                    f"FROM p CROSS JOIN {self.table} t ON t.reg_no = ? AND t.et = p.e "
                    "AND t.key = p.k AND t.cur",
                    params,
                ):
                    found[(reg, et, key)] = (int(sess), (int(sess), et, key))
        return found

    def _pg_current(self, tx: Tx, rows: Sequence[Row]) -> dict[tuple[Any, ...], tuple[int, str]]:
        """(reg_no, et, key) -> (sess_no, ctid) of the current record of each row's key
        that has one: one index probe per row (LATERAL with LIMIT is never planned as a
        scan of the registration's records), the arrays sent in binary."""
        if not rows:
            return {}
        found = tx.conn.execute(
            "SELECT i.r, i.e, i.k, c.sess_no, c.ctid::text FROM unnest(%b::int8[], %b::int8[], "
            f"%b::text[]) AS i(r, e, k) CROSS JOIN LATERAL (SELECT sess_no, ctid FROM "
            f"{self.table} WHERE reg_no = i.r AND et = i.e AND key = i.k AND cur LIMIT 1) c",
            ([r[REG] for r in rows], [r[ET] for r in rows], [r[KEY] for r in rows]),
        ).fetchall()
        return {(r, e, k): (int(s), str(c)) for r, e, k, s, c in found}

    # --- removal and restoration ------------------------------------------------------

    def keys_of(self, tx: Tx, current_only: bool) -> tuple[str, str]:
        """(FROM, WHERE) of every record (o) of the keys a session (the parameter) synced
        (of those it holds the current receipt of, with `current_only`). SQLite: CROSS JOIN
        fixes that join order, instead of scanning every record of the registration."""
        t, join = self.table, "JOIN" if tx.pg else "CROSS JOIN"
        return (
            f"{t} k {join} {t} o ON o.reg_no = k.reg_no AND o.et = k.et AND o.key = k.key",
            "k.sess_no = ?" + (" AND k.cur" if current_only else ""),
        )

    def of_registration(self) -> tuple[str, str]:
        """(FROM, WHERE) of every record (o) of a registration (the parameter)."""
        return f"{self.table} o", "o.reg_no = ?"

    def recompute(
        self, tx: Tx, cutoff: int, source: tuple[str, str], params: Sequence[Any]
    ) -> None:
        """Mark, among the records `source` selects (alias o: all records of some keys of
        one registration), exactly the newest of each key whose session is not removed
        (not deleted, seq above the registration's reset `cutoff`) as current. Only rows
        whose mark changes are written, through ON CONFLICT: one primary-key probe each,
        never an UPDATE's join planned as a scan of the table."""
        tx.x(
            f"INSERT INTO {self.table} ({COLS}) SELECT {COLS.replace('cur', 'should')} "
            "FROM (SELECT o.sess_no, o.position, o.reg_no, o.et, o.key, o.digest, o.cur, "
            "COALESCE(o.sess_no = MAX(CASE WHEN rs.deleted = 0 AND rs.seq > ? "
            "THEN o.sess_no END) OVER (PARTITION BY o.et, o.key), FALSE) AS should "
            f"FROM {source[0]} JOIN {self.sessions} rs ON rs.sess_no = o.sess_no "
            f"WHERE {source[1]}) x WHERE x.cur <> x.should "
            "ON CONFLICT (sess_no, et, key) DO UPDATE SET cur = excluded.cur",
            (cutoff, *params),
        )

    def count_changed(self, tx: Tx, changes: dict[Any, int]) -> None:
        """Add to registrations' receipt counts (reg_no -> change)."""
        rows = [(n, reg) for reg, n in changes.items() if n]
        tx.many(f"UPDATE {self.registrations} SET receipts = receipts + ? WHERE reg_no = ?", rows)

    def recount(self, tx: Tx, rid: str) -> None:
        """Count a registration's receipts again, after a set-based recomputation (rare:
        a deletion, its undo, a reset's undo)."""
        tx.x(
            f"UPDATE {self.registrations} SET receipts = (SELECT COUNT(*) FROM {self.table} "
            f"WHERE reg_no = {self.registrations}.reg_no AND cur) WHERE registration_id = ?",
            (rid,),
        )

    def count(self, tx: Tx, sess: int, current_only: bool) -> int:
        only = " AND cur" if current_only else ""
        row = tx.one(f"SELECT COUNT(*) FROM {self.table} WHERE sess_no = ?{only}", (sess,))
        return int(row[0]) if row else 0
