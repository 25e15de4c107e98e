"""Verification's scan: every stored event re-read, hashed into its leaf and decoded, in
position order — the part of `replay verify` whose cost grows with the log.

The log is cut into spans of positions. With `workers` > 1 the spans are read by that many
worker processes, each on its own connection, a few spans ahead of the caller, which gets
them back in order (the tree itself is built by the caller, replay/verify.py). Workers are
forked, so they are for the command line and benchmarks, never the HTTP server
(`GET /v1/audit/verify` scans in its own thread).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
from eventsourcing.utils import resolve_topic

from domain.infra.compressor import decompress
from domain.infra.database import Database
from domain.infra.transcoder import OrjsonTranscoder
from replay.merkle import leaf_hashes
from replay.store import Store

SPAN = 65_536  # positions per unit of work
PAGE = 8_192  # rows per query inside a span
PARALLEL_FROM = 2 * SPAN  # smaller logs are scanned in-process (no worker start-up)


def default_workers() -> int:
    """Worker processes for a command-line verification: the machine's cores."""
    return max(1, min(8, os.cpu_count() or 1))


@dataclass
class Chunk:
    positions: list[int]
    leaves: list[bytes]
    undecodable: list[int] = field(default_factory=list)


class Decoder:
    """Decodes stored event state the way the application would (without building objects)."""

    def __init__(self) -> None:
        self.transcoder = OrjsonTranscoder()
        self.topics: dict[str, bool] = {}

    def check(self, topic: str, state: bytes) -> str | None:
        """None when the event decodes, else why not."""
        known = self.topics.get(topic)
        if known is None:
            try:
                resolve_topic(topic)
                known = True
            except Exception:
                known = False
            self.topics[topic] = known
        if not known:
            return f"unknown topic {topic!r}"
        try:
            data = orjson.loads(decompress(state))  # large payloads are stored compressed
            if type(data) is not dict or "timestamp" not in data:
                return "state is not an event (no timestamp)"
            # The typed values the application decodes first (timestamp, ids) sit at the
            # top level; large record lists hold plain strings, so they are not walked.
            for value in data.values():
                if type(value) is dict and "_type_" in value:
                    self.transcoder.decode_value(value)
        except Exception as e:
            return f"state does not decode ({type(e).__name__}: {e})"
        return None


def _reader(database: Database) -> Store:
    store = Store(database)
    if database.kind == "sqlite":  # read the file through memory maps: fewer copies
        store.conn.execute("PRAGMA mmap_size=1073741824")
    return store


def _scan(store: Store, decoder: Decoder, lo: int, hi: int) -> Chunk:
    positions: list[int] = []
    leaves: list[bytes] = []
    undecodable: list[int] = []
    check = decoder.check
    for page in store.event_pages(lo, hi, PAGE):
        positions += [event[0] for event in page]
        leaves += leaf_hashes(page)
        undecodable += [e[0] for e in page if check(e[3], e[4]) is not None]
    return Chunk(positions, leaves, undecodable)


_worker: tuple[Store, Decoder] | None = None


def _scan_in_worker(database: Database, lo: int, hi: int) -> Chunk:
    global _worker
    if _worker is None:
        _worker = (_reader(database), Decoder())  # one connection per worker, kept
    return _scan(*_worker, lo, hi)


def scan(database: Database, stop: int | None, top: int, workers: int = 1) -> Iterator[Chunk]:
    """The events with position <= min(stop, top) as chunks, in position order."""
    last, span = (top if stop is None else min(stop, top)), SPAN
    spans = [(lo, min(lo + span - 1, last)) for lo in range(1, last + 1, span)]
    if workers <= 1 or len(spans) < 2:
        store, decoder = _reader(database), Decoder()
        try:
            for lo, hi in spans:
                yield _scan(store, decoder, lo, hi)
        finally:
            store.close()
        return
    # fork: the workers inherit the loaded modules (no re-import per run); they open
    # their own connections and leave the parent's alone.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: deque[Future[Chunk]] = deque()
        todo = iter(spans)
        for lo, hi in todo:
            pending.append(pool.submit(_scan_in_worker, database, lo, hi))
            if len(pending) >= 2 * workers:
                break
        while pending:
            chunk = pending.popleft().result()
            following: Any = next(todo, None)
            if following is not None:
                pending.append(pool.submit(_scan_in_worker, database, *following))
            yield chunk
