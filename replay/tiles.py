"""Stored subtree hashes of the log's Merkle tree: a cache that makes proofs fast.

Every level of the tree is stored, 256 hashes to a row: row (level, t) holds the hashes of
the complete subtrees of 2^level leaves with indices 256t .. 256t+255, concatenated. Any
complete subtree's hash is then one slice of one row, so a proof needs no hashing beyond
folding its right edge, and its rows are fetched in ONE query (`prefetch`). Level-0 rows
also carry the first event position they cover (and the list of positions when those are
not consecutive), so a position maps to its leaf index with one indexed lookup. About 64
bytes per event in all (the events themselves are batches of records, far larger).

NOTHING here is trusted by verification (replay/verify.py recomputes from the events): a
tile that was altered only yields proofs that fail against a signed checkpoint.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from domain.infra.database import Database
from domain.infra.locks import sqlite_write_lock
from domain.infra.pgpool import GuardedPool, borrow, give_back
from replay.merkle import EMPTY_ROOT, HASH_SIZE, node_hash

TILE_HEIGHT = 8  # 2^8 hashes to a row
TILE_WIDTH = 1 << TILE_HEIGHT
TILE_BYTES = TILE_WIDTH * HASH_SIZE
_POS = struct.Struct(">q")
# Databases whose tables this process already created (a DDL round trip per open is waste).
_ensured: set[tuple[str, str]] = set()


class CacheMiss(LookupError):
    """The tiles do not (yet) hold what was asked: the follower is behind or they were cut."""


def pack_positions(positions: list[int]) -> bytes | None:
    """None when the positions are consecutive (the usual case: nothing to store)."""
    if positions[-1] - positions[0] + 1 == len(positions):
        return None
    return b"".join(_POS.pack(p) for p in positions)


def decompose(start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) as aligned complete subtrees, largest first: (level, index) pairs."""
    out = []
    s = start
    while s < end:
        size = 1 << ((end - s).bit_length() - 1)
        while s % size:
            size >>= 1
        level = size.bit_length() - 1
        out.append((level, s >> level))
        s += size
    return out


class TileStore:
    """One connection (on PostgreSQL, borrowed from the process's shared pool: a proof costs
    no connect, and answers 503 at once while the server is away); the tile and checkpoint
    tables on either backend."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.kind = database.kind
        self.conn: Any
        self._pool: GuardedPool | None = None
        if self.kind == "sqlite":
            self.conn = sqlite3.connect(database.path, timeout=30, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout=30000")
            # The ledger's durability (WAL + NORMAL): FULL would fsync every tile commit
            # while holding the file's write lock.
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.ph = "?"
        else:
            self._pool, self.conn = borrow(database)  # autocommit, search_path set
            self.ph = "%s"
        self._tiles: dict[tuple[int, int], bytes] = {}
        key = (database.url, database.schema)
        if key not in _ensured:
            self.ensure()
            _ensured.add(key)

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            give_back(self.database, pool, self.conn)
        else:
            self.conn.close()

    def ensure(self) -> None:
        blob = "BLOB" if self.kind == "sqlite" else "BYTEA"
        big = "INTEGER" if self.kind == "sqlite" else "BIGINT"
        for ddl in (
            f"CREATE TABLE IF NOT EXISTS log_tiles (level {big} NOT NULL, idx {big} NOT NULL, "
            f"hashes {blob} NOT NULL, first_position {big}, positions {blob}, "
            "PRIMARY KEY (level, idx))",
            "CREATE INDEX IF NOT EXISTS log_tiles_first ON log_tiles (level, first_position)",
            f"CREATE TABLE IF NOT EXISTS log_checkpoints (tree_size {big} PRIMARY KEY, "
            "root_hash TEXT NOT NULL, timestamp TEXT NOT NULL, key_id TEXT NOT NULL, "
            "note TEXT NOT NULL)",
        ):
            try:
                self.conn.execute(ddl)
            except (sqlite3.OperationalError, psycopg.errors.UniqueViolation):
                pass  # created concurrently by another process

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction (SQLite: under the file's write lock, like every writer)."""
        if self.kind == "sqlite":
            with sqlite_write_lock(self.database.path):
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                    self.conn.execute("COMMIT")
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
        else:
            with self.conn.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(hashtext('syncledger_log_tiles'))")
                yield

    # --- reading ------------------------------------------------------------------------

    def forget(self) -> None:
        """Drop tiles read earlier (they may have grown since)."""
        self._tiles.clear()

    def tile(self, level: int, idx: int) -> bytes:
        key = (level, idx)
        found = self._tiles.get(key)
        if found is None:
            row = self.conn.execute(
                f"SELECT hashes FROM log_tiles WHERE level = {self.ph} AND idx = {self.ph}", key
            ).fetchone()
            found = bytes(row[0]) if row else b""
            self._tiles[key] = found
        return found

    def stored_size(self) -> int:
        """Leaves the level-0 tiles hold (0 when empty)."""
        row = self.conn.execute(
            "SELECT idx, LENGTH(hashes) FROM log_tiles WHERE level = 0 ORDER BY idx DESC LIMIT 1"
        ).fetchone()
        return int(row[0]) * TILE_WIDTH + int(row[1]) // HASH_SIZE if row else 0

    def last_tiles(self) -> dict[int, tuple[int, bytes, int | None, bytes | None]]:
        """The last tile of each level: level -> (idx, hashes, first_position, positions)."""
        rows = self.conn.execute(
            "SELECT t.level, t.idx, t.hashes, t.first_position, t.positions FROM log_tiles t "
            "JOIN (SELECT level, MAX(idx) AS idx FROM log_tiles GROUP BY level) m "
            "ON m.level = t.level AND m.idx = t.idx"
        ).fetchall()
        return {
            int(r[0]): (
                int(r[1]),
                bytes(r[2]),
                None if r[3] is None else int(r[3]),
                None if r[4] is None else bytes(r[4]),
            )
            for r in rows
        }

    def complete(self, level: int, index: int) -> bytes:
        """Hash of the complete subtree of 2^level leaves starting at leaf index << level."""
        blob = self.tile(level, index >> TILE_HEIGHT)
        off = (index & (TILE_WIDTH - 1)) * HASH_SIZE
        found = blob[off : off + HASH_SIZE]
        if len(found) != HASH_SIZE:
            raise CacheMiss(f"no stored hash for level {level} index {index}")
        return found

    def prefetch(self, ranges: list[tuple[int, int]]) -> None:
        """Read, in one query, every row the MTHs of these leaf ranges need."""
        keys = sorted(
            {(lv, i >> TILE_HEIGHT) for a, b in ranges for lv, i in decompose(a, b)}
            - self._tiles.keys()
        )
        if not keys:
            return
        for key in keys:
            self._tiles[key] = b""
        # One statement of point lookups (UNION ALL): each arm uses the primary key, where
        # an OR of (level, idx) pairs makes SQLite scan the whole table.
        point = (
            f"SELECT level, idx, hashes FROM log_tiles WHERE level = {self.ph} AND idx = {self.ph}"
        )
        for start in range(0, len(keys), 200):
            chunk = keys[start : start + 200]
            rows = self.conn.execute(
                " UNION ALL ".join([point] * len(chunk)), [v for key in chunk for v in key]
            ).fetchall()
            for level, idx, hashes in rows:
                self._tiles[(int(level), int(idx))] = bytes(hashes)

    def subtree(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end), start aligned as in RFC 9162's recursion."""
        if end <= start:
            return EMPTY_ROOT
        parts = [self.complete(level, index) for level, index in decompose(start, end)]
        acc = parts[-1]
        for h in reversed(parts[:-1]):
            acc = node_hash(h, acc)
        return acc

    def leaf_index(self, position: int) -> int | None:
        """The leaf index of the event at `position`, per the tiles (None: not stored)."""
        row = self.conn.execute(
            "SELECT idx, first_position, positions, LENGTH(hashes) FROM log_tiles "
            f"WHERE level = 0 AND first_position <= {self.ph} "
            "ORDER BY first_position DESC LIMIT 1",
            (position,),
        ).fetchone()
        if row is None:
            return None
        idx, first, positions, count = int(row[0]), int(row[1]), row[2], int(row[3]) // HASH_SIZE
        if positions is None:
            off = position - first
            return idx * TILE_WIDTH + off if off < count else None
        packed = bytes(positions)
        lo, hi = 0, len(packed) // 8
        while lo < hi:  # binary search in the tile's own positions
            mid = (lo + hi) // 2
            p = _POS.unpack_from(packed, mid * 8)[0]
            if p == position:
                return idx * TILE_WIDTH + mid
            if p < position:
                lo = mid + 1
            else:
                hi = mid
        return None

    # --- writing ------------------------------------------------------------------------

    def put_tiles(self, rows: list[tuple[int, int, bytes, int | None, bytes | None]]) -> None:
        """Upsert (level, idx, hashes, first_position, positions); call inside transaction()."""
        ph = self.ph
        sql = (
            "INSERT INTO log_tiles (level, idx, hashes, first_position, positions) "
            f"VALUES ({ph}, {ph}, {ph}, {ph}, {ph}) ON CONFLICT (level, idx) DO UPDATE SET "
            "hashes = excluded.hashes, first_position = excluded.first_position, "
            "positions = excluded.positions"
        )
        if self.kind == "sqlite":
            self.conn.executemany(sql, rows)
        else:
            with self.conn.cursor() as cur:
                cur.executemany(sql, rows)
        self.forget()

    def clear_tiles(self) -> None:
        self.conn.execute("DELETE FROM log_tiles")
        self.forget()

    # --- checkpoints --------------------------------------------------------------------

    def save_checkpoint(
        self, tree_size: int, root_hex: str, timestamp: str, key_id: str, note: str
    ) -> None:
        ph = self.ph
        self.conn.execute(
            "INSERT INTO log_checkpoints (tree_size, root_hash, timestamp, key_id, note) "
            f"VALUES ({ph}, {ph}, {ph}, {ph}, {ph}) ON CONFLICT (tree_size) DO NOTHING",
            (tree_size, root_hex, timestamp, key_id, note),
        )

    def latest_checkpoint_note(self) -> str | None:
        row = self.conn.execute(
            "SELECT note FROM log_checkpoints ORDER BY tree_size DESC LIMIT 1"
        ).fetchone()
        return str(row[0]) if row else None


@contextmanager
def open_tiles(database: Database) -> Iterator[TileStore]:
    store = TileStore(database)
    try:
        yield store
    finally:
        store.close()
