"""Decoding stored event state into plain, JSON-ready dicts (for exports and time travel)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain.infra.eventlog import DECODER, event_type

META = ("timestamp", "actor", "correlation_id", "originator_topic")


def decode_state(state: bytes, topic: str = "") -> dict[str, Any]:
    """The event's attributes through the one decoder, upcast to its class's current
    version when the topic is given."""
    return DECODER.state(topic, state)


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


__all__ = ["META", "decode_state", "event_type", "jsonable", "rfc3339"]
