"""Event versions (issue 10): events stored by an earlier version still decode, and the
upcaster hook (`class_version`, `upcast_vN_vN+1`) reaches every reader.

tests/fixtures/events_v1.json holds a history stored by the first versioned event classes
(written once by tests/fixtures/make_events_v1.py, then never regenerated).
"""

from __future__ import annotations

import base64
import inspect
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.persistence import StoredEvent as LibraryStoredEvent

from domain import Ledger, approval, registration, session
from domain.infra import eventlog
from domain.infra.database import Database
from domain.infra.eventlog import DECODER, EventLog, StoredEvent
from domain.registration import Registration
from domain.session import Session
from replay.merkle import leaf_hash, root_of
from replay.treelog import LogConfig, TreeFollower
from replay.verify import LIMITS_OUTSIDE, verify_log

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


def _event_classes() -> list[type[Any]]:
    """The event classes our aggregates define (not the `Created` eventsourcing adds to
    every aggregate, which ours never trigger: they name their own creation events)."""
    found = []
    for module in (registration, session, approval):
        source = inspect.getsource(module)
        for _, aggregate in inspect.getmembers(module, inspect.isclass):
            if issubclass(aggregate, Aggregate) and aggregate.__module__ == module.__name__:
                found += [
                    c
                    for c in vars(aggregate).values()
                    if inspect.isclass(c)
                    and issubclass(c, DomainEvent)
                    and f"class {c.__name__}(" in source
                ]
    return found


def test_every_event_class_declares_its_version_and_its_upcasters() -> None:
    classes = _event_classes()
    assert len(classes) > 25
    for cls in classes:
        assert "class_version" in vars(cls), f"{cls.__qualname__} declares no class_version"
        for v in range(1, cls.class_version):
            assert callable(vars(cls).get(f"upcast_v{v}_v{v + 1}")), cls.__qualname__


def test_v1_events_upcast_decode_and_verify_on_both_backends(
    database: Database, tmp_path: Path
) -> None:
    """The stored v1 history, loaded into a fresh database: the real upcaster of
    Registration.ResetUndone (v1 -> v2) runs on every path, the stored bytes stay as they
    were, and replay's verification recomputes the Merkle root of exactly those bytes and
    matches a checkpoint signed over them."""
    rows = _stored()
    ledger = Ledger(database=database)
    ledger.recorder.insert_events(
        [
            LibraryStoredEvent(
                originator_id=UUID(hex=oid), originator_version=v, topic=topic, state=state
            )
            for _, oid, v, topic, state in rows
        ]
    )
    with EventLog.open(database) as log:
        stored = [e for page in log.pages() for e in page]
    assert stored == rows  # same positions, same bytes: nothing was rewritten

    undone = [r for r in stored if r[3].endswith("Registration.ResetUndone")]
    assert undone and Registration.ResetUndone.class_version == 2
    for row in undone:
        assert b'"restored_recent"' in row[4] and b"class_version" not in row[4]
        event = DECODER.domain_event(row)
        assert isinstance(event, Registration.ResetUndone)
        assert not hasattr(event, "restored_recent") and event.reopened is not None
        assert "restored_recent" not in DECODER.state(row[3], row[4])
        assert "restored_recent" not in DECODER.raw_state(row[3], row[4])
    # The application replays them through the same upcaster.
    for rid in {UUID(hex=r[1]) for r in undone}:
        versions = [r[2] for r in stored if r[1] == rid.hex]
        assert ledger.get_registration(rid).version == max(versions)
    ledger.close()

    config = LogConfig(signing_key=tmp_path / "signing.key")
    follower = TreeFollower(database, config)
    follower.step(force=True)
    note = follower.latest_note()
    assert note is not None
    report = verify_log(database, checkpoint_note=note, verifiers=[config.signer().verifier])
    assert report.ok, report.problems
    assert report.limits == LIMITS_OUTSIDE and report.undecodable == []
    assert report.checkpoint is not None and report.checkpoint["root_matches"] is True
    assert report.checked == len(rows)
    # The root verify recomputed is the tree over the fixture's own rows.
    assert report.head["digest"] == root_of([leaf_hash(*r) for r in rows]).hex()
