"""Keeps the tree's tiles up to date as the log grows, and signs checkpoints.

`TreeFollower.advance()` hashes the events recorded after the last stored leaf into the
tiles (one leaf hash per event, plus one node hash per event amortized, written a page at
a time); `sign()` signs a checkpoint for the current size. `serve` runs `start()` in its
background process: woken after each save, it advances and signs at most once per
`checkpoint_every_s`, writing each checkpoint to the database (served by
GET /v1/log/checkpoint) and, when configured, to a directory outside it.

Before signing, the follower checks that the new tree extends the last checkpoint it
signed (kept in memory, and read back at start from the checkpoint directory, else from
the database after checking its signature). If the tiles were emptied and the log forged,
the rebuilt tree no longer extends that checkpoint, and it refuses to sign: the attack the
old hash chain's follower would have blessed within seconds.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from domain.infra.database import Database
from replay.keys import KeyFileError, known_verifiers, load_or_create
from replay.merkle import (
    HASH_SIZE,
    ProofError,
    consistency_path,
    leaf_hashes,
    verify_consistency,
)
from replay.note import (
    Checkpoint,
    NoteError,
    Signer,
    now_rfc3339,
    open_checkpoint,
    sign_checkpoint,
)
from replay.store import Store
from replay.tiles import TILE_BYTES, TILE_HEIGHT, TILE_WIDTH, TileStore, pack_positions

TileRow = tuple[int, int, bytes, int | None, bytes | None]

FOLLOW_PAGE = 5_000
POLL_SECONDS = 0.5
log = logging.getLogger(__name__)
_sha256 = hashlib.sha256


@dataclass(frozen=True)
class LogConfig:
    """Where the signing key and the checkpoint copies live (api/settings.py)."""

    signing_key: Path = Path("syncledger-signing.key")
    checkpoint_dir: Path | None = None
    checkpoint_every_s: float = 1.0

    @classmethod
    def from_settings(cls) -> LogConfig:
        from api.settings import get_settings

        s = get_settings()
        return cls(s.signing_key, s.checkpoint_dir, s.checkpoint_every_s)

    def signer(self) -> Signer:
        return load_or_create(self.signing_key)


class ForkRefused(RuntimeError):
    """The tree no longer extends the last signed checkpoint: nothing is signed."""


class _Frontier:
    """The last (partial) row of each tree level, as the follower appends leaves."""

    def __init__(self) -> None:
        self.size = 0
        self.last_position = 0
        self.tiles: dict[int, bytearray] = {0: bytearray()}
        self.positions: list[int] = []  # of the partial level-0 row
        self.dirty: set[int] = set()
        self.full: list[TileRow] = []  # rows completed since the last rows()

    def append(self, position: int, leaf: bytes) -> None:
        self.positions.append(position)
        self.last_position = position
        self._push(0, leaf, self.size)
        self.size += 1

    def _push(self, level: int, h: bytes, index: int) -> None:
        """Add hash number `index` of tree `level`; a right child completes its parent."""
        tile = self.tiles.setdefault(level, bytearray())
        tile += h
        self.dirty.add(level)
        # The left sibling of an odd index is the hash before it in the same row (rows
        # start at multiples of 256), so the pair is the row's last 64 bytes.
        parent = _sha256(b"\x01" + tile[-2 * HASH_SIZE :]).digest() if index & 1 else None
        if len(tile) == TILE_BYTES:  # full: store it and start the next row
            first, packed = self._level0_positions() if level == 0 else (None, None)
            self.full.append((level, index >> TILE_HEIGHT, bytes(tile), first, packed))
            self.tiles[level] = bytearray()
            if level == 0:
                self.positions = []
        if parent is not None:
            self._push(level + 1, parent, index >> 1)

    def _level0_positions(self) -> tuple[int | None, bytes | None]:
        if not self.positions:
            return None, None
        return self.positions[0], pack_positions(self.positions)

    def rows(self) -> list[TileRow]:
        """Rows to write: those completed, then the partial ones that changed."""
        out, self.full = self.full, []
        for level in sorted(self.dirty):
            tile = self.tiles[level]
            if not tile:
                continue
            idx = (self.size >> level) >> TILE_HEIGHT
            first, packed = self._level0_positions() if level == 0 else (None, None)
            out.append((level, idx, bytes(tile), first, packed))
        self.dirty.clear()
        return out


def _load_frontier(tiles: TileStore) -> _Frontier | None:
    """The frontier as stored, or None when the stored rows do not fit together."""
    frontier = _Frontier()
    last = tiles.last_tiles()
    if not last:
        return frontier
    if 0 not in last:
        return None
    idx0, hashes0, first0, packed0 = last[0]
    count0 = len(hashes0) // HASH_SIZE
    size = idx0 * TILE_WIDTH + count0
    if first0 is None or not count0:
        return None
    if packed0 is None:
        positions = list(range(first0, first0 + count0))
    else:
        positions = [int.from_bytes(packed0[i : i + 8], "big") for i in range(0, len(packed0), 8)]
        if len(positions) != count0:
            return None
    frontier.size = size
    frontier.last_position = positions[-1]
    frontier.positions = positions if count0 < TILE_WIDTH else []
    level = 0
    while size >> level:
        idx, hashes, _, _ = last.get(level, (0, b"", None, None))
        count = len(hashes) // HASH_SIZE
        if idx * TILE_WIDTH + count != size >> level:
            return None
        frontier.tiles[level] = bytearray(hashes if count < TILE_WIDTH else b"")
        level += 1
    if any(lv >= level for lv in last):
        return None
    return frontier


class TreeFollower:
    def __init__(
        self, database: Database, config: LogConfig | None = None, *, page_size: int = FOLLOW_PAGE
    ) -> None:
        self.database = database
        self.config = config or LogConfig()
        self.page_size = page_size
        self._lock = threading.Lock()
        self._frontier: _Frontier | None = None
        self._signed: Checkpoint | None = None
        self._signed_note: str | None = None
        self._signed_loaded = False
        self._last_sign = 0.0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop_ident: int | None = None
        self._held: tuple[Store, TileStore] | None = None

    # --- the tiles ----------------------------------------------------------------------

    @contextmanager
    def _connections(self) -> Iterator[tuple[Store, TileStore]]:
        """The event reader and the tiles. The follower's own thread keeps its two open
        (woken after every save, it would otherwise connect twice per batch); any other
        caller gets fresh ones (SQLite connections belong to the thread that made them)."""
        if threading.get_ident() == self._loop_ident:
            if self._held is None:
                self._held = (Store(self.database), TileStore(self.database))
            self._held[1].forget()  # rows read before may have grown since
            yield self._held
            return
        events, tiles = Store(self.database), TileStore(self.database)
        try:
            yield events, tiles
        finally:
            tiles.close()
            events.close()

    def _release(self) -> None:
        if self._held is not None:
            for conn in self._held:
                conn.close()
            self._held = None

    def advance(self) -> int:
        """Hash every event after the last stored leaf into the tiles; returns the size."""
        with self._lock, self._connections() as (events, tiles):
            return self._advance(tiles, events)

    def _advance(self, tiles: TileStore, events: Store) -> int:
        frontier = self._frontier
        if frontier is None or tiles.stored_size() != frontier.size:
            frontier = _load_frontier(tiles)
            if frontier is None:  # tiles damaged or cut: rebuild them from the events
                log.warning("the stored tree tiles do not fit together; rebuilding them")
                with tiles.transaction():
                    tiles.clear_tiles()
                frontier = _Frontier()
            self._frontier = frontier
        for page in events.event_pages(frontier.last_position + 1, page_size=self.page_size):
            before = frontier.size
            for event, leaf in zip(page, leaf_hashes(page), strict=True):
                frontier.append(event[0], leaf)
            rows = frontier.rows()
            with tiles.transaction():
                if tiles.stored_size() != before:  # another process wrote meanwhile
                    self._frontier = None
                    raise _Retry
                tiles.put_tiles(rows)
        return frontier.size

    def size(self) -> int:
        with self._lock, self._connections() as (_, tiles):
            return tiles.stored_size()

    # --- checkpoints --------------------------------------------------------------------

    def _last_signed(self, tiles: TileStore) -> Checkpoint | None:
        """The newest checkpoint known good: kept in memory, else from the checkpoint
        directory (outside the database), else the database's (signature checked)."""
        if self._signed_loaded:
            return self._signed
        self._signed_loaded = True
        verifiers = known_verifiers(self.config.signing_key)
        notes: list[str] = []
        directory = self.config.checkpoint_dir
        if directory is not None and directory.is_dir():
            files = sorted(directory.glob("checkpoint-*.txt"))
            if files:
                notes.append(files[-1].read_text())
        stored = tiles.latest_checkpoint_note()
        if stored is not None:
            notes.append(stored)
        for note in notes:
            try:
                checkpoint, _ = open_checkpoint(note, verifiers)
            except NoteError as e:
                log.error("ignoring a stored checkpoint that does not verify: %s", e)
                continue
            if self._signed is None or checkpoint.tree_size > self._signed.tree_size:
                self._signed, self._signed_note = checkpoint, note
        return self._signed

    def sign(self) -> Checkpoint:
        """Sign a checkpoint for the stored tree (ForkRefused if it does not extend the
        last one signed); returns the newest checkpoint."""
        with self._lock, self._connections() as (_, tiles):
            return self._sign(tiles, self.config.signer())

    def _sign(self, tiles: TileStore, signer: Signer) -> Checkpoint:
        size = tiles.stored_size()
        root = tiles.subtree(0, size)
        last = self._last_signed(tiles)
        if last is not None:
            if size < last.tree_size:
                raise ForkRefused(
                    f"the log has {size} entries, fewer than the {last.tree_size} of the last "
                    "signed checkpoint: it was truncated; not signing"
                )
            try:
                path = consistency_path(last.tree_size, size, tiles.subtree)
                verify_consistency(last.tree_size, size, last.root_hash, root, path)
            except ProofError as e:
                raise ForkRefused(
                    f"the log no longer extends the checkpoint of size {last.tree_size} "
                    f"({e}); not signing"
                ) from None
            if size == last.tree_size and last.origin == signer.name:
                return last
        checkpoint = Checkpoint(signer.name, size, root, now_rfc3339())
        note = sign_checkpoint(checkpoint, signer)
        with tiles.transaction():
            tiles.save_checkpoint(
                size, root.hex(), checkpoint.timestamp or "", signer.verifier.key_id, note
            )
        directory = self.config.checkpoint_dir
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            target = directory / f"checkpoint-{size:015d}.txt"
            if not target.exists():
                tmp = target.with_suffix(".tmp")
                tmp.write_text(note)
                tmp.replace(target)
        self._signed, self._signed_note = checkpoint, note
        return checkpoint

    def latest_note(self) -> str | None:
        """The note of the newest checkpoint this follower signed or knows to be good."""
        return self._signed_note

    def step(self, *, force: bool = False) -> None:
        """Advance, then sign if the tree grew and the interval has passed (or `force`)."""
        size = self._advance_retrying()
        signed = self._signed.tree_size if self._signed is not None else -1
        now = time.monotonic()
        if size != signed and (force or now - self._last_sign >= self.config.checkpoint_every_s):
            self._last_sign = now
            self.sign()

    def _advance_retrying(self) -> int:
        for _ in range(5):
            try:
                return self.advance()
            except _Retry:
                continue
        return self.advance()

    # --- the thread ---------------------------------------------------------------------

    def notify(self, position: int) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="tree-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        self._loop_ident = threading.get_ident()
        try:
            self._follow()
        finally:
            self._release()
            self._loop_ident = None

    def _follow(self) -> None:
        warned = ""
        last = 0.0
        while not self._stopping.is_set():
            self._wake.wait(POLL_SECONDS)
            # Coalesce a burst of saves into one pass per checkpoint interval: a pass after
            # every save costs the ingest path about a third of its throughput (measured in
            # benchmarks/bench_replay.py), one per interval costs nothing measurable.
            pause = self.config.checkpoint_every_s - (time.monotonic() - last)
            if pause > 0:
                self._stopping.wait(pause)
            self._wake.clear()
            if self._stopping.is_set():
                return
            last = time.monotonic()
            try:
                self.step()
            except (ForkRefused, KeyFileError) as e:
                if str(e) != warned:  # say it once, not every half second
                    log.error("tree follower: %s", e)
                    warned = str(e)
            except Exception:  # keep following; the next wake retries
                log.exception("tree follower failed to advance")


class _Retry(Exception):
    """Another process extended the tiles during this page: reload and go on."""
