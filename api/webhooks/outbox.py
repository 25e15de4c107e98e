"""The webhook outbox: deliveries made from the event log the way a view is made.

One tracking row holds the position reached, and the deliveries an event causes are
inserted in the same transaction that moves it, so a crash never loses or doubles a
message. The outbox reads only as far as the sessions view has processed, because
session events name their session by aggregate id and the view maps that to the
registration and session ids.

The outbox starts where its earliest live webhook starts: events at or before a webhook's
`from_position` are never sent to it, so while nobody listens the tracking row stays where
it is and nothing is read or written. `look()` tells the deliverer in one statement whether
there is anything to fill or send, which is what it asks after every page the views
commit (issue 16: the outbox used to take three transactions per look even with no
webhooks, more round trips than the saves it followed).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from api.webhooks import catalog
from projections.events import read_page
from projections.store import Store, Tx

TRACKER = "webhooks"
PAGE = 1000
SESSIONS_VIEW = "sessions"


@dataclass(frozen=True, slots=True)
class Look:
    """Where the outbox is, from one statement."""

    tracked: int  # the tracking row
    readable: int  # how far the sessions view has processed
    start: int | None  # the earliest live webhook's from_position; None: nobody listens
    next_due: int | None  # the earliest pending delivery's next attempt (micros)

    @property
    def position(self) -> int:
        """Every delivery for an event up to here exists (nobody listens: all of them)."""
        if self.start is None:
            return self.readable
        return min(self.readable, max(self.tracked, self.start))

    @property
    def behind(self) -> bool:
        return self.position < self.readable


class Outbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    def look(self) -> Look:
        with self.store.read(single=True) as tx:
            row = tx.one(
                "SELECT (SELECT position FROM webhook_tracking WHERE name = ?), "
                "(SELECT position FROM view_tracking WHERE view = ?), "
                "(SELECT MIN(from_position) FROM webhooks WHERE deleted_at IS NULL), "
                "(SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending')",
                (TRACKER, SESSIONS_VIEW),
            )
        assert row is not None  # a SELECT without FROM always gives its one row
        tracked, readable, start, due = row
        return Look(
            int(tracked or 0),
            int(readable or 0),
            None if start is None else int(start),
            None if due is None else int(due),
        )

    def fill(self, now: int, page: int = PAGE) -> tuple[int, bool]:
        """Turn the next page of events into deliveries; returns how many it added and
        whether the outbox is now as far as the sessions view."""
        with self.store.write() as tx:
            lock = " FOR UPDATE" if tx.pg else ""
            row = tx.one(f"SELECT position FROM webhook_tracking WHERE name = ?{lock}", (TRACKER,))
            upto = self._readable(tx)
            hooks = [
                (str(h[0]), set(orjson.loads(h[1])), int(h[2]))
                for h in tx.q(
                    "SELECT id, events, from_position FROM webhooks WHERE deleted_at IS NULL"
                )
            ]
            if not hooks:
                return 0, True
            done = max(int(row[0]) if row else 0, min(start for _, _, start in hooks))
            if upto <= done:
                return 0, True
            events = [e for e in read_page(tx, done, page) if e.position <= upto]
            if not events:
                self._move(tx, upto)
                return 0, True
            rows = self._deliveries(tx, events, hooks, now)
            tx.many(
                "INSERT INTO webhook_deliveries (id, webhook_id, position, event_type, body, "
                "status, attempts, next_attempt_at, created_at) "
                "VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            )
            reached = events[-1].position
            self._move(tx, reached)
            return len(rows), reached >= upto

    @staticmethod
    def _readable(tx: Tx) -> int:
        row = tx.one("SELECT position FROM view_tracking WHERE view = ?", (SESSIONS_VIEW,))
        return int(row[0]) if row else 0

    @staticmethod
    def _move(tx: Tx, position: int) -> None:
        tx.x("UPDATE webhook_tracking SET position = ? WHERE name = ?", (position, TRACKER))

    @staticmethod
    def _deliveries(
        tx: Tx, events: Sequence[Any], hooks: list[tuple[str, set[str], int]], now: int
    ) -> list[tuple[Any, ...]]:
        wanted = [e for e in events if e.kind in catalog.KINDS]
        session_ids = sorted({e.originator_id for e in wanted if e.kind in catalog.SESSION_KINDS})
        sessions: dict[str, tuple[str, str]] = {}
        for start in range(0, len(session_ids), 500):
            chunk = session_ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for agg, rid, sid in tx.q(
                "SELECT agg_id, registration_id, session_id FROM view_sessions "
                f"WHERE agg_id IN ({marks})",
                chunk,
            ):
                sessions[str(agg)] = (str(rid), str(sid))
        rows: list[tuple[Any, ...]] = []
        for event in wanted:
            if event.kind in catalog.SESSION_KINDS:
                rid, sid = sessions.get(event.originator_id, ("", ""))
                where: tuple[str, str | None] = (rid, sid or None)
            elif event.kind in catalog.APPROVAL_KINDS:
                state = event.state
                where = (str(state["registration_id"]), state.get("session_id"))
            else:
                where = (event.originator_id, None)
            for event_type in catalog.types_of(event):
                body = orjson.dumps(catalog.message(event, event_type, *where)).decode()
                for hook_id, subscribed, start in hooks:
                    if event_type not in subscribed or event.position <= start:
                        continue
                    msg_id = (
                        "msg_"
                        + uuid.uuid5(uuid.UUID(hook_id), f"{event.position}:{event_type}").hex
                    )
                    rows.append((msg_id, hook_id, event.position, event_type, body, now, now))
        return rows
