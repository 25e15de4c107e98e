"""Time travel: a registration's session history exactly as it stood at a position or time.

Computed from the event log, never from today's read model: the registration's own events
are read by aggregate id (the primary-key index), the sessions it opened are discovered from
its `SessionOpened` events, and their events are read the same way; everything up to the
position is merged in position order and replayed into the session-history items of
`projections.interface.ReadModelsProtocol.list_sessions`.

`at=TIME` means the log as it stood then: the events of this registration and its sessions,
in position order, up to and including the last one stamped at or before TIME (events of
one transaction need not have rising stamps, so the first later stamp is no boundary).
Whether a session was `stuck` is judged at TIME, or, for `position=N`, at the time of the
event at N.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.infra.database import Database
from domain.ledger import Ledger
from domain.values import session_aggregate_id
from replay.eventdata import decode_state, event_type, rfc3339
from replay.store import Store, open_store

Item = dict[str, Any]


class _History:
    """Applies the registration's and its sessions' events to session-history items."""

    def __init__(self) -> None:
        self.sessions: dict[str, Item] = {}
        self.by_aggregate: dict[str, Item] = {}
        self.resets: dict[str, dict[str, Any]] = {}
        self.stuck_after = timedelta(minutes=120)
        self.exists = False

    def apply(
        self, position: int, originator_id: str, version: int, kind: str, data: dict[str, Any]
    ) -> None:
        at: datetime = data["timestamp"]
        actor = data.get("actor")
        handler = getattr(self, "_" + kind.replace(".", "_"), None)
        if handler is not None:
            handler(position, originator_id, version, at, actor, data)

    # --- registration events -------------------------------------------------------------

    def _Registration_Registered(
        self, p: int, oid: str, v: int, at: datetime, actor: Any, d: dict[str, Any]
    ) -> None:
        self.exists = True
        self.stuck_after = timedelta(minutes=int(d.get("stuck_after_minutes", 120)))

    def _Registration_RegistrationReset(
        self, p: int, oid: str, v: int, at: datetime, actor: Any, d: dict[str, Any]
    ) -> None:
        chain = d.get("chain") or str(v)
        self.resets[chain] = {
            "cutoff": int(d["cutoff"]),
            "active": True,
            "entry": {"position": p, "by": actor, "at": rfc3339(at), "reason": d.get("reason")},
        }

    def _Registration_ResetUndone(
        self, p: int, oid: str, v: int, at: datetime, actor: Any, d: dict[str, Any]
    ) -> None:
        state = self.resets.get(d["chain"])
        if state is not None:
            state["active"] = False

    # --- session events ------------------------------------------------------------------

    def _Session_Started(
        self, p: int, oid: str, v: int, at: datetime, actor: Any, d: dict[str, Any]
    ) -> None:
        item: Item = {
            "id": d["session_id"],
            "seq": d["seq"],
            "sync_type": d["sync_type"],
            "status": "in_progress",
            "started_at": rfc3339(at),
            "ended_at": None,
            "records_synced": 0,
            "error_count": 0,
            "worker": d.get("worker") or "",
            "entity_types": list(d.get("entity_types") or []),
            "request_id": d.get("request_id"),
            "stuck": False,
            "last_activity_at": rfc3339(at),
            "fail_reason": None,
            "deleted": None,
            "removed_by_reset": None,
            "restored": None,
            "_last": at,
        }
        self.sessions[item["id"]] = item
        self.by_aggregate[oid] = item

    def _touch(self, oid: str, at: datetime) -> Item | None:
        item = self.by_aggregate.get(oid)
        if item is not None:
            item["_last"] = at
            item["last_activity_at"] = rfc3339(at)
        return item

    def _Session_RecordsSynced(
        self, p: int, oid: str, v: int, at: datetime, actor: Any, d: dict[str, Any]
    ) -> None:
        item = self._touch(oid, at)
        if item is not None:
            item["records_synced"] += len(d.get("records") or [])

    def _Session_ErrorRecorded(
        self, p: int, oid: str, v: int, at: datetime, actor: Any, d: dict[str, Any]
    ) -> None:
        item = self._touch(oid, at)
        if item is not None:
            item["error_count"] += 1

    def _Session_Completed(
        self, p: int, oid: str, v: int, at: datetime, actor: Any, d: dict[str, Any]
    ) -> None:
        item = self._touch(oid, at)
        if item is not None:
            item["status"] = "completed"
            item["ended_at"] = rfc3339(at)

    def _Session_Failed(
        self, p: int, oid: str, v: int, at: datetime, actor: Any, d: dict[str, Any]
    ) -> None:
        item = self._touch(oid, at)
        if item is not None:
            item["status"] = "failed"
            item["ended_at"] = rfc3339(at)
            item["fail_reason"] = d.get("reason")

    def _Session_Deleted(
        self, p: int, oid: str, v: int, at: datetime, actor: Any, d: dict[str, Any]
    ) -> None:
        item = self.by_aggregate.get(oid)
        if item is not None:
            item["deleted"] = {
                "by": actor,
                "at": rfc3339(at),
                "reason": d.get("reason"),
                "ticket": d.get("ticket"),
                "override": bool(d.get("override")),
                "position": p,
            }

    def _Session_Restored(
        self, p: int, oid: str, v: int, at: datetime, actor: Any, d: dict[str, Any]
    ) -> None:
        item = self.by_aggregate.get(oid)
        if item is not None:
            item["deleted"] = None
            item["restored"] = {
                "by": actor,
                "at": rfc3339(at),
                "reason": d.get("reason"),
                "position": p,
            }

    # --- result ----------------------------------------------------------------------------

    def items(self, now: datetime | None, include_deleted: bool) -> list[Item]:
        active = sorted(
            (r for r in self.resets.values() if r["active"]), key=lambda r: r["entry"]["position"]
        )
        result: list[Item] = []
        for item in sorted(self.sessions.values(), key=lambda i: i["seq"], reverse=True):
            removing = next((r for r in active if item["seq"] <= r["cutoff"]), None)
            out = {k: v for k, v in item.items() if k != "_last"}
            out["removed_by_reset"] = dict(removing["entry"]) if removing else None
            out["stuck"] = (
                item["status"] == "in_progress"
                and item["deleted"] is None
                and removing is None
                and now is not None
                and now - item["_last"] > self.stuck_after
            )
            if include_deleted or (out["deleted"] is None and removing is None):
                result.append(out)
        return result


def history_as_of(
    ledger: Ledger | Database,
    registration_id: UUID | str,
    *,
    at: datetime | None = None,
    position: int | None = None,
    include_deleted: bool = True,
) -> list[Item]:
    """The registration's session history as it stood at `position` or time `at` (exactly
    one), most recent first; deleted and reset-removed sessions are marked (and left out
    when `include_deleted` is false). Empty if the registration did not exist yet."""
    if (at is None) == (position is None):
        raise ValueError("pass exactly one of at= or position=")
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    database = ledger if isinstance(ledger, Database) else ledger.database
    if database is None:
        raise ValueError("the ledger has no database")
    rid = UUID(str(registration_id))
    history = _History()
    with open_store(database) as store:
        own = _decoded(store, [rid], position)
        session_ids = {
            session_aggregate_id(rid, d["session_id"])
            for _, _, _, kind, d in own
            if kind == "Registration.SessionOpened"
        }
        events = sorted(
            own + _decoded(store, sorted(session_ids, key=str), position), key=lambda e: e[0]
        )
        now = at if at is not None else _time_at(store, position or 0)
    if at is not None:
        # Finding 7 (issue 10): the events one transaction saves carry the times they were
        # created, which need not rise with their positions (a session's Started can be
        # older than the SessionOpened recorded before it). So the log "at TIME" ends at
        # the LAST event stamped at or before TIME, and holds everything recorded before
        # it; stopping at the first later stamp would cut a transaction in half.
        cut = max((e[0] for e in events if e[4]["timestamp"] <= at), default=0)
        events = [e for e in events if e[0] <= cut]
    for p, oid, version, kind, data in events:
        history.apply(p, oid, version, kind, data)
    if not history.exists:
        return []
    return history.items(now, include_deleted)


Decoded = tuple[int, str, int, str, dict[str, Any]]


def _decoded(store: Store, ids: list[UUID], stop: int | None) -> list[Decoded]:
    return [
        (p, oid, v, event_type(topic), decode_state(state, topic))
        for p, oid, v, topic, state in store.events_of(ids, stop)
    ]


def _time_at(store: Store, position: int) -> datetime | None:
    """The time of the last event at or before `position` (when the log stood there)."""
    for page in store.event_pages(max(position - 50, 1), position):
        if page:
            return decode_state(page[-1][4], page[-1][3])["timestamp"]  # type: ignore[no-any-return]
    return None
