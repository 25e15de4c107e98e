"""What verification compares the recomputed leaves with, besides a checkpoint.

- `ExportLeaves`: an earlier export's leaf hashes (each re-derived from the row's own bytes,
  and, for a full export, their root checked against the export's signed checkpoint), so
  the first changed position can be named.
- `CacheLeaves`: the stored level-0 tiles, read alongside as a HINT only — they live in the
  same database and are never trusted to decide anything.
- `parse_digest`: `HEX@POSITION`, a root hash kept elsewhere for the tree ending at POSITION.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.infra.database import Database
from replay.merkle import HASH_SIZE, CompactRange, leaf_hash
from replay.note import NoteError, Verifier, open_checkpoint, peek_checkpoint
from replay.tiles import TILE_HEIGHT, TILE_WIDTH, TileStore


def parse_digest(text: str) -> tuple[str, int]:
    """`HEX@POSITION` -> (hex, position); ValueError when malformed."""
    digest, sep, position = text.partition("@")
    digest = digest.strip().lower()
    if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"expected HEX@POSITION with a 64-digit SHA-256 hex digest, got {text!r}")
    try:
        return digest, int(position)
    except ValueError:
        raise ValueError(f"expected HEX@POSITION, got {text!r}: position is not a number") from None


def row_leaf(row: dict[str, Any]) -> tuple[int, bytes]:
    """(position, leaf hash) recomputed from an export row's own fields; ValueError if broken."""
    try:
        state = base64.b64decode(row["state_b64"], validate=True)
        originator_id = UUID(str(row["originator_id"])).hex
        position = int(row["position"])
        version = int(row["originator_version"])
        topic = str(row["type"])
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise ValueError("unreadable row") from None
    return position, leaf_hash(position, originator_id, version, topic, state)


@dataclass
class ExportLeaves:
    leaves: dict[int, tuple[int, bytes]]  # leaf index -> (position, leaf hash)
    size: int
    full: bool
    checkpoint_note: str | None
    problems: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path, verifiers: list[Verifier]) -> ExportLeaves:
        from replay.export import read_export, read_export_checkpoint

        leaves: dict[int, tuple[int, bytes]] = {}
        problems: list[str] = []
        full = True
        tree = CompactRange()
        for row in read_export(path):
            full = full and row.get("scope", "all") == "all"
            try:
                position, leaf = row_leaf(row)
                index = int(row["leaf_index"])
                claimed = bytes.fromhex(str(row["leaf_hash"]))
            except (KeyError, ValueError):
                problems.append(f"export row {row.get('position')!r}: unreadable or no leaf hash")
                continue
            if leaf != claimed:
                problems.append(
                    f"export row at position {position}: its fields do not match its own leaf "
                    "hash (the export was edited)"
                )
            leaves[index] = (position, claimed)
            if full:
                if index != tree.size:
                    problems.append(f"export row at position {position}: out of order")
                tree.append(claimed)
        note = read_export_checkpoint(path)
        export = cls(leaves, len(leaves), full, note, problems)
        export._check_own_checkpoint(tree, verifiers)
        return export

    def _check_own_checkpoint(self, tree: CompactRange, verifiers: list[Verifier]) -> None:
        if self.checkpoint_note is None:
            self.checks.append("the export carries no checkpoint: its leaves are taken as given")
            return
        try:
            claimed = peek_checkpoint(self.checkpoint_note)
            if verifiers:
                open_checkpoint(self.checkpoint_note, verifiers)
                how = "signature verified"
            else:
                how = "signature not checked (no public key)"
        except NoteError as e:
            self.problems.append(f"the export's checkpoint does not verify: {e}")
            return
        if self.full:
            if tree.size != claimed.tree_size or tree.root() != claimed.root_hash:
                self.problems.append(
                    "the export's rows do not add up to its checkpoint (the export was edited)"
                )
            else:
                self.checks.append(
                    f"the export's {tree.size:,} leaves add up to its checkpoint ({how})"
                )

    def compare(self, index: int, position: int, leaf: bytes) -> int | None:
        """The first changed position if leaf `index` differs from the export's, else None."""
        ref = self.leaves.get(index)
        if ref is None or ref == (position, leaf):
            return None
        return min(ref[0], position)

    def missing_after(self, live_size: int) -> int | None:
        """The export's position of the first leaf the live log no longer has."""
        gone = [i for i in self.leaves if i >= live_size]
        return self.leaves[min(gone)][0] if gone else None

    def describe(self, position: int) -> str:
        return (
            f"position {position}: the log differs from the earlier export here (an event "
            "was edited, deleted, reordered or inserted at this position)"
        )


TILES_AHEAD = 256  # level-0 rows read per query (65,536 leaves)


class CacheLeaves:
    """Walks the stored level-0 tiles beside the events; records the first disagreement."""

    def __init__(self, database: Database) -> None:
        self.first_mismatch: int | None = None
        self._store: TileStore | None = None
        self._tile_idx = -1
        self._hashes = b""
        self._positions: list[int] | None = None
        self._ahead: dict[int, tuple[Any, Any, Any] | None] = {}
        try:
            self._store = TileStore(database)
        except Exception:  # noqa: BLE001 - no readable tiles: nothing to hint with
            self._store = None

    def see_page(self, start: int, positions: list[int], leaves: list[bytes]) -> None:
        """see() for consecutive leaves from index `start`, a tile row at a time."""
        if self._store is None or self.first_mismatch is not None:
            return
        i = 0
        while i < len(leaves) and self._store is not None and self.first_mismatch is None:
            index = start + i
            span = min(len(leaves) - i, TILE_WIDTH - (index & (TILE_WIDTH - 1)))
            try:
                if index >> TILE_HEIGHT != self._tile_idx:
                    self._load(index >> TILE_HEIGHT)
                off = index & (TILE_WIDTH - 1)
                stored = self._hashes[off * HASH_SIZE : (off + span) * HASH_SIZE]
                stored_pos = self._positions[off : off + span] if self._positions else None
            except Exception:  # noqa: BLE001 - altered tiles must not break verification
                stored, stored_pos = b"", None
            if stored == b"".join(leaves[i : i + span]) and (
                stored_pos is None or stored_pos == positions[i : i + span]
            ):
                i += span
                continue
            for j in range(i, i + span):  # find the exact leaf (or the end of the tiles)
                self.see(start + j, positions[j], leaves[j])
                if self._store is None or self.first_mismatch is not None:
                    return
            i += span

    def see(self, index: int, position: int, leaf: bytes) -> None:
        if self._store is None or self.first_mismatch is not None:
            return
        try:
            tile = index >> TILE_HEIGHT
            if tile != self._tile_idx:
                self._load(tile)
            off = index & (TILE_WIDTH - 1)
            stored = self._hashes[off * HASH_SIZE : (off + 1) * HASH_SIZE]
            if not stored:
                self.close()  # the tiles end here (not followed yet): nothing more to compare
                return
            stored_position = self._positions[off] if self._positions else None
            if stored != leaf or (stored_position is not None and stored_position != position):
                self.first_mismatch = position
        except Exception:  # noqa: BLE001 - altered tiles must not break verification
            self.first_mismatch = position

    def _load(self, tile: int) -> None:
        assert self._store is not None
        if tile not in self._ahead:  # the next TILES_AHEAD rows in one query
            ph = self._store.ph
            self._ahead = {tile: None}
            for r in self._store.conn.execute(
                "SELECT idx, hashes, first_position, positions FROM log_tiles "
                f"WHERE level = 0 AND idx >= {ph} AND idx < {ph}",
                (tile, tile + TILES_AHEAD),
            ).fetchall():
                self._ahead[int(r[0])] = (r[1], r[2], r[3])
        row = self._ahead.get(tile)
        self._tile_idx = tile
        if row is None:
            self._hashes, self._positions = b"", None
            return
        self._hashes = bytes(row[0])
        count = len(self._hashes) // HASH_SIZE
        first, packed = row[1], row[2]
        if packed is not None:
            raw = bytes(packed)
            self._positions = [int.from_bytes(raw[i : i + 8], "big") for i in range(0, len(raw), 8)]
        elif first is not None:
            self._positions = list(range(int(first), int(first) + count))
        else:
            self._positions = None

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
