"""Which events of the log a webhook receiver hears about, and what each message says.

The catalog is the public contract of the webhooks (DESIGN.md, "Notifications"): one
webhook event type per kind of thing that needs a person's attention. The message body
follows the Standard Webhooks shape: {"type", "timestamp", "data"}.
"""

from __future__ import annotations

from typing import Any

from projections.events import Event
from projections.fmt import iso

SESSION_STUCK = "session.stuck"
SESSION_FAILED = "session.failed"
SESSION_DELETED = "session.deleted"
REGISTRATION_RESET = "registration.reset"
ACTION_UNDONE = "action.undone"
APPROVAL_REQUESTED = "approval.requested"

EVENT_TYPES = (
    SESSION_STUCK,
    SESSION_FAILED,
    SESSION_DELETED,
    REGISTRATION_RESET,
    ACTION_UNDONE,
    APPROVAL_REQUESTED,
)

# Event kinds (topic tails) that may become a webhook message. Session events carry the
# session aggregate's id only, so the outbox looks up registration and session ids.
SESSION_KINDS = frozenset(
    {"Session.FlaggedStuck", "Session.Failed", "Session.Deleted", "Session.Restored"}
)
REGISTRATION_KINDS = frozenset({"Registration.RegistrationReset", "Registration.ResetUndone"})
# Approval events name their registration (and session) in their own state.
APPROVAL_KINDS = frozenset({"Approval.Requested"})
KINDS = SESSION_KINDS | REGISTRATION_KINDS | APPROVAL_KINDS


def types_of(event: Event) -> list[str]:
    """The webhook event types an event of the log announces (usually none)."""
    kind, state = event.kind, event.state
    undo = state.get("undo_of") is not None
    if kind == "Session.FlaggedStuck":
        return [SESSION_STUCK]
    if kind == "Session.Failed":
        return [SESSION_FAILED]
    if kind == "Session.Deleted":
        # A deletion that undoes a restoration is still a deletion.
        return [SESSION_DELETED, ACTION_UNDONE] if undo else [SESSION_DELETED]
    if kind == "Registration.RegistrationReset":
        return [REGISTRATION_RESET, ACTION_UNDONE] if undo else [REGISTRATION_RESET]
    if kind in ("Session.Restored", "Registration.ResetUndone"):
        return [ACTION_UNDONE]
    if kind == "Approval.Requested":
        return [APPROVAL_REQUESTED]
    return []


# Fields of the event's state a receiver may act on (never the records of a batch).
_FIELDS = (
    "reason",
    "ticket",
    "override",
    "failed_checks",
    "undo_of",
    "cutoff",
    "since",
    "stuck_after_minutes",
    "action",
    "expires_at",
    "session_id",
)


def message(
    event: Event, event_type: str, registration_id: str, session_id: str | None
) -> dict[str, Any]:
    """The body of one webhook message (Standard Webhooks: type, timestamp, data)."""
    data: dict[str, Any] = {
        "registration_id": registration_id,
        "session_id": session_id,
        "position": event.position,
        "event": event.kind,
        "actor": event.actor,
        "correlation_id": event.state.get("correlation_id"),
    }
    if event.kind.startswith("Approval."):
        data["approval_id"] = event.originator_id
    for name in _FIELDS:
        value = event.state.get(name)
        if value is None:
            continue
        if name == "session_id":
            data["session_id"] = data["session_id"] or value
        else:
            data[name] = _plain(value)
    return {"type": event_type, "timestamp": iso(event.at), "data": data}


def _plain(value: Any) -> Any:
    if isinstance(value, dict) and "_data_" in value:
        return value["_data_"]  # an encoded datetime
    return value
