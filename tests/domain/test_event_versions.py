"""Event versions (issue 10): events stored by an earlier version still decode, and the
upcaster hook (`class_version`, `upcast_vN_vN+1`) reaches every reader.

tests/fixtures/events_v1.json holds a history stored by the first versioned event classes
(written once by tests/fixtures/make_events_v1.py, then never regenerated).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from eventsourcing.persistence import StoredEvent as LibraryStoredEvent

from domain import Ledger
from domain.infra import eventlog
from domain.infra.database import Database
from domain.infra.eventlog import DECODER, StoredEvent
from domain.registration import Registration
from domain.session import Session

FIXTURE = Path(__file__).parents[1] / "fixtures" / "events_v1.json"


def _stored() -> list[StoredEvent]:
    return [
        (
            e["position"],
            e["originator_id"],
            e["originator_version"],
            e["topic"],
            base64.b64decode(e["state_b64"]),
        )
        for e in orjson.loads(FIXTURE.read_bytes())
    ]


def test_stored_events_of_v1_still_decode() -> None:
    rows = _stored()
    assert len(rows) > 50
    for row in rows:
        event = DECODER.domain_event(row)
        assert type(event).__qualname__ == eventlog.event_type(row[3])
        assert DECODER.state(row[3], row[4])["timestamp"] == event.timestamp
        assert "timestamp" in DECODER.raw_state(row[3], row[4])


def test_stored_events_of_v1_load_into_the_application(database: Database) -> None:
    ledger = Ledger(database=database)
    ledger.recorder.insert_events(
        [
            LibraryStoredEvent(
                originator_id=UUID(hex=oid), originator_version=v, topic=topic, state=state
            )
            for _, oid, v, topic, state in _stored()
        ]
    )
    registrations = {
        UUID(hex=oid) for _, oid, _, topic, _ in _stored() if topic.endswith("Registered")
    }
    for rid in registrations:
        reg = ledger.get_registration(rid)
        assert isinstance(reg, Registration) and reg.file_id
    ledger.close()


@pytest.fixture
def completed_v2(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A test-only v2 of Session.Completed that adds a field, with its upcaster."""

    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["summary"] = "completed before summaries existed"

    monkeypatch.setattr(Session.Completed, "class_version", 2, raising=False)
    monkeypatch.setattr(
        Session.Completed, "upcast_v1_v2", staticmethod(upcast_v1_v2), raising=False
    )
    eventlog._event_class.cache_clear()
    yield Session.Completed
    eventlog._event_class.cache_clear()


def test_upcaster_hook_reaches_every_decoding_path(completed_v2: Any) -> None:
    completed = [r for r in _stored() if r[3].endswith("Session.Completed")]
    assert completed
    for row in completed:
        summary = "completed before summaries existed"
        assert DECODER.domain_event(row).summary == summary  # type: ignore[attr-defined]
        assert DECODER.state(row[3], row[4])["summary"] == summary
        assert DECODER.raw_state(row[3], row[4])["summary"] == summary
    # A v2 event as the mapper stores it carries class_version 2 and is not upcast again.
    event = DECODER.domain_event(completed[0])
    stored = DECODER.mapper.to_stored_event(event)
    assert b'"class_version":2' in stored.state
    raw = DECODER.raw_state(stored.topic, stored.state)
    assert raw["summary"] == event.summary and "class_version" not in raw  # type: ignore[attr-defined]
