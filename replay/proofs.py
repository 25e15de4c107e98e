"""Inclusion and consistency proofs served from the stored tiles, and the latest checkpoint.

The tiles are only a cache: a proof built from altered tiles fails when the client checks
it against a signed checkpoint, which is the point. The leaf hash of an inclusion proof is
recomputed from the event itself, and the event is returned with it, so a client can check
the whole chain from the bytes to the signature.
"""

from __future__ import annotations

import base64
from typing import Any
from uuid import UUID

from domain.infra.database import Database
from domain.infra.eventlog import EventLog
from replay.merkle import consistency_path, inclusion_path, leaf_hash
from replay.note import peek_checkpoint
from replay.store import open_store
from replay.tiles import CacheMiss, TileStore, open_tiles


def _prefetch_for(
    tiles: TileStore, size: int, index: int | None = None, old: int | None = None
) -> None:
    """Fetch in one query every stored row the proof and the roots will read."""
    ranges: list[tuple[int, int]] = [(0, size)]

    def record(start: int, end: int) -> bytes:
        ranges.append((start, end))
        return b""

    if index is not None:
        inclusion_path(index, size, record)
    if old is not None:
        consistency_path(old, size, record)
        ranges.append((0, old))
    tiles.prefetch(ranges)


def inclusion_from_tiles(tiles: TileStore, index: int, size: int) -> tuple[list[bytes], bytes]:
    """(audit path, root) of leaf `index` in the tree of `size` leaves: every stored row
    they need read in one query, then only the right edges folded (CacheMiss if absent)."""
    _prefetch_for(tiles, size, index=index)
    return inclusion_path(index, size, tiles.subtree), tiles.subtree(0, size)


def consistency_from_tiles(
    tiles: TileStore, old: int, size: int
) -> tuple[list[bytes], bytes, bytes]:
    """(path, old root, new root) from the tree of `old` leaves to that of `size`."""
    _prefetch_for(tiles, size, old=old)
    path = consistency_path(old, size, tiles.subtree)
    return path, tiles.subtree(0, old), tiles.subtree(0, size)


class ProofRequestError(Exception):
    """A proof that cannot be given: status, code and message for the error body."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def checkpoint_dict(note: str) -> dict[str, Any]:
    cp = peek_checkpoint(note)
    sig_line = note.rstrip("\n").rsplit("\n", 1)[-1]
    raw = base64.b64decode(sig_line.rsplit(" ", 1)[-1])
    return {
        "origin": cp.origin,
        "tree_size": cp.tree_size,
        "root_hash": cp.root_hash.hex(),
        "timestamp": cp.timestamp,
        "key_id": raw[:4].hex(),
        "note": note,
    }


def latest_checkpoint(database: Database) -> dict[str, Any] | None:
    """The newest checkpoint stored (signed by serve's follower), or None."""
    with open_tiles(database) as tiles:
        note = tiles.latest_checkpoint_note()
    return checkpoint_dict(note) if note is not None else None


def _size(tiles: TileStore, tree_size: int | None, database: Database) -> int:
    stored = tiles.stored_size()
    if tree_size is None:
        latest = tiles.latest_checkpoint_note()
        return peek_checkpoint(latest).tree_size if latest else stored
    if tree_size > stored:
        raise ProofRequestError(
            404,
            "not_found",
            f"The log's tree has {stored} entries so far; there is no tree of size {tree_size}.",
            tree_size=stored,
        )
    return tree_size


def event_at(database: Database, position: int) -> tuple[int, str, int, str, bytes] | None:
    with open_store(database) as store:
        for page in store.event_pages(position, position):
            for event in page:
                return event
    return None


def event_dict(event: tuple[int, str, int, str, bytes]) -> dict[str, Any]:
    position, originator_id, version, topic, state = event
    try:
        aggregate_id = str(UUID(hex=originator_id))
    except ValueError:  # an edited row: show it as stored (its proof will fail)
        aggregate_id = originator_id
    return {
        "position": position,
        "aggregate_id": aggregate_id,
        "version": version,
        "topic": topic,
        "state_b64": base64.b64encode(state).decode(),
    }


def prove_inclusion(
    database: Database, position: int, tree_size: int | None = None
) -> dict[str, Any]:
    """The audit path of the event at `position` in the tree of `tree_size` leaves (default:
    the latest checkpoint's)."""
    with open_tiles(database) as tiles:
        size = _size(tiles, tree_size, database)
        index = tiles.leaf_index(position)
        if index is None:
            raise ProofRequestError(
                404,
                "not_found",
                f"No event at position {position} in the log's tree (yet).",
                position=position,
            )
        if index >= size:
            raise ProofRequestError(
                422,
                "validation_error",
                f"The event at position {position} is leaf {index}, not in the tree of size "
                f"{size}; ask for a larger tree_size.",
                position=position,
                tree_size=size,
            )
        try:
            path, root = inclusion_from_tiles(tiles, index, size)
        except CacheMiss as e:
            raise ProofRequestError(
                503, "projection_lagging", f"The tree is not ready: {e}."
            ) from None
        # The event itself through the same connection (no second connect per proof).
        event = EventLog(tiles.conn, database.kind).at(position)
    if event is None:
        raise ProofRequestError(404, "not_found", f"No event at position {position}.")
    return {
        "position": position,
        "leaf_index": index,
        "tree_size": size,
        "leaf_hash": leaf_hash(*event).hex(),
        "audit_path": [h.hex() for h in path],
        "root_hash": root.hex(),
        "event": event_dict(event),
    }


def prove_consistency(database: Database, old: int, new: int | None = None) -> dict[str, Any]:
    """The consistency proof from the tree of `old` leaves to that of `new` (default: the
    latest checkpoint's size)."""
    with open_tiles(database) as tiles:
        size = _size(tiles, new, database)
        if old > size:
            raise ProofRequestError(
                422,
                "validation_error",
                f"from ({old}) must not exceed to ({size}).",
                **{"from": old, "to": size},
            )
        try:
            path, old_root, new_root = consistency_from_tiles(tiles, old, size)
            return {
                "from": old,
                "to": size,
                "path": [h.hex() for h in path],
                "from_root": old_root.hex(),
                "to_root": new_root.hex(),
            }
        except CacheMiss as e:
            raise ProofRequestError(
                503, "projection_lagging", f"The tree is not ready: {e}."
            ) from None
