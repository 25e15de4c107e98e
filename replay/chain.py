"""The SHA-256 hash chain over the whole event log, and the follower that records its heads.

Link i = sha256(prev || canonical(event i)), where `prev` is the 32 raw bytes of the
previous link (genesis: 32 zero bytes, written as 64 zeros) and `canonical` is five
length-prefixed fields (8-byte big-endian length, then the bytes):

    position (ASCII decimal) | originator_id (32 lowercase hex digits) |
    originator_version (ASCII decimal) | topic (UTF-8) | state (the exact stored bytes)

The chain covers the events in position order. Gaps are allowed (PostgreSQL sequences can
skip numbers), but each link names its position, so deleting, moving or inserting an event
changes the link at that position and every later one.

Heads: `ChainFollower` records the digest of EVERY event in `chain_heads(position, digest,
recorded_at)`. A two-column row per event is cheap (written in batches, a page per
transaction) and lets verification name the exact first position whose recomputed link
differs, or which is missing or extra — with sparse heads it could only name a range.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from domain.infra.database import Database
from replay.store import StoredEvent, open_store

GENESIS = "0" * 64
FOLLOW_PAGE = 1_000
POLL_SECONDS = 0.5

log = logging.getLogger(__name__)


def canonical_bytes(
    position: int, originator_id: str, version: int, topic: str, state: bytes
) -> bytes:
    parts = (
        str(position).encode(),
        originator_id.encode(),
        str(version).encode(),
        topic.encode(),
        state,
    )
    return b"".join(len(p).to_bytes(8, "big") + p for p in parts)


def link(prev: bytes, event: StoredEvent) -> bytes:
    """The raw digest of one link, given the raw digest of the previous one."""
    position, originator_id, version, topic, state = event
    return hashlib.sha256(
        prev + canonical_bytes(position, originator_id, version, topic, state)
    ).digest()


def chain(events: Iterable[StoredEvent], prev_hex: str = GENESIS) -> Iterator[tuple[int, str]]:
    """(position, hex digest) for each event, continuing from `prev_hex`."""
    prev = bytes.fromhex(prev_hex)
    for event in events:
        prev = link(prev, event)
        yield event[0], prev.hex()


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


class ChainFollower:
    """Hashes new events into the chain and records their heads as the log grows.

    `advance()` catches up synchronously; `start()` runs it in a thread woken by
    `notify(position)` (wire it to `Ledger.on_saved`) and by a short poll.
    """

    def __init__(self, database: Database, *, page_size: int = FOLLOW_PAGE) -> None:
        self.database = database
        self.page_size = page_size
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def advance(self) -> int:
        """Hash everything recorded after the last head; returns the head position."""
        with self._lock, open_store(self.database) as store:
            last = store.last_head()
            position, digest = last if last else (0, GENESIS)
            for page in store.event_pages(position + 1, page_size=self.page_size):
                now = datetime.now(UTC).isoformat()
                heads = [(p, d, now) for p, d in chain(page, digest)]
                store.save_heads(heads)
                position, digest = heads[-1][0], heads[-1][1]
            return position

    def head(self) -> tuple[int, str]:
        with open_store(self.database) as store:
            return store.last_head() or (0, GENESIS)

    def notify(self, position: int) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="chain-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.advance()
            except Exception:  # keep following; the next wake retries
                log.exception("chain follower failed to advance")
