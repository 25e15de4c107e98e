"""Verification: re-read every stored event, re-hash the chain, compare with the heads.

The recorded heads hold a digest per event (see replay/chain.py), so the report names the
exact first position where the log and the chain disagree:

- an event whose recomputed link differs from its recorded head (bytes changed, events
  swapped or moved, or an earlier event changed the chain);
- a recorded position with no event any more (deleted);
- an event at a position inside the recorded range that the chain never saw (inserted).

Events after the last recorded head are hashed too (the follower may simply not have
reached them yet) but can only be checked against `digest=HEX@POSITION`, the digest an
auditor kept elsewhere: that check also catches rewriting the log and the heads together.
Every event is also decoded (orjson transcoder + topic resolution); failures are listed in
`undecodable` and make the report not ok.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.utils import resolve_topic

from domain.infra.database import Database
from domain.infra.eventlog import DECODER
from replay.chain import GENESIS, canonical_bytes, parse_digest
from replay.store import Store, open_store

Progress = Callable[[int, int], None]


@dataclass
class VerifyReport:
    ok: bool
    checked: int
    head: dict[str, Any]
    first_bad_position: int | None
    problems: list[str] = field(default_factory=list)
    undecodable: list[int] = field(default_factory=list)
    # Heads were compared up to here (0: none recorded yet; later events were only hashed).
    recorded_through: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "head": dict(self.head),
            "first_bad_position": self.first_bad_position,
            "problems": list(self.problems),
            "undecodable": list(self.undecodable),
            "recorded_through": self.recorded_through,
        }


class Decoder:
    """Decodes stored event state the way the application would (without building objects)."""

    def __init__(self) -> None:
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
            data = DECODER.state(topic, state)
        except Exception as e:
            return f"state does not decode ({type(e).__name__}: {e})"
        if not isinstance(data, dict) or "timestamp" not in data:
            return "state is not an event (no timestamp)"
        return None


class _Checker:
    """Walks the log and the recorded heads side by side."""

    def __init__(self, store: Store, at_position: int | None) -> None:
        self.heads = _iter_heads(store, at_position)
        self.next_head = next(self.heads, None)
        self.last_head = store.last_head()
        self.first_bad: int | None = None
        self.problems: list[str] = []

    def bad(self, position: int, problem: str) -> None:
        if self.first_bad is None:
            self.first_bad = position
            self.problems.append(problem)

    def see(self, position: int, digest: str) -> None:
        while self.next_head is not None and self.next_head[0] < position:
            missing = self.next_head[0]
            self.bad(missing, f"position {missing}: recorded in the chain but missing from the log")
            self.next_head = next(self.heads, None)
        head = self.next_head
        if head is not None and head[0] == position:
            if head[1] != digest:
                self.bad(
                    position,
                    f"position {position}: the event does not match the chain "
                    "(changed, moved, or an earlier event was)",
                )
            self.next_head = next(self.heads, None)
        elif self.last_head is not None and position < self.last_head[0]:
            self.bad(position, f"position {position}: an event the chain never recorded (inserted)")

    def finish(self) -> None:
        while self.next_head is not None:
            missing = self.next_head[0]
            self.bad(missing, f"position {missing}: recorded in the chain but missing from the log")
            self.next_head = next(self.heads, None)


def _iter_heads(store: Store, stop: int | None) -> Iterator[tuple[int, str]]:
    # A second connection, so the heads and the events are paged independently.
    other = Store(store.database)
    try:
        for page in other.head_pages(1, stop):
            yield from page
    finally:
        other.close()


def verify_log(
    database: Database,
    *,
    digest: str | None = None,
    at_position: int | None = None,
    progress: Progress | None = None,
) -> VerifyReport:
    """Recompute the chain over the stored log (up to `at_position`) and check it."""
    expected = parse_digest(digest) if digest else None
    decoder = Decoder()
    undecodable: list[int] = []
    with open_store(database) as store:
        total = store.count_events(at_position)
        checker = _Checker(store, at_position)
        prev = bytes.fromhex(GENESIS)
        position = 0
        checked = 0
        digest_seen = False
        sha256 = hashlib.sha256
        for page in store.event_pages(1, at_position):
            for position, originator_id, version, topic, state in page:
                prev = sha256(
                    prev + canonical_bytes(position, originator_id, version, topic, state)
                ).digest()
                hex_digest = prev.hex()
                checker.see(position, hex_digest)
                if decoder.check(topic, state) is not None:
                    undecodable.append(position)
                if expected is not None and position == expected[1]:
                    digest_seen = True
                    if hex_digest != expected[0]:
                        checker.problems.append(
                            f"position {position}: digest differs from the one given "
                            f"({expected[0]}); the log was rewritten at or before it"
                        )
                        if checker.first_bad is None:
                            checker.first_bad = position
            checked += len(page)
            if progress is not None:
                progress(checked, total)
        checker.finish()
        if expected is not None and not digest_seen:
            checker.problems.append(
                f"position {expected[1]}: no such event to check the given digest against"
            )
            if checker.first_bad is None or expected[1] < checker.first_bad:
                checker.first_bad = expected[1]
    for p in undecodable[:100]:
        checker.problems.append(f"position {p}: the event cannot be decoded")
    ok = checker.first_bad is None and not undecodable
    return VerifyReport(
        ok=ok,
        checked=checked,
        head={"position": position, "digest": prev.hex()},
        first_bad_position=checker.first_bad,
        problems=checker.problems,
        undecodable=undecodable,
        recorded_through=min(checker.last_head[0], position) if checker.last_head else 0,
    )
