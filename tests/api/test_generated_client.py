"""A client generated from the served /openapi.json drives both README walk-throughs by
attribute (issue 15): typed models, a 409 parsed into ErrorBody, no dicts.

openapi-python-client (pinned in pyproject) runs once per test session into a temp dir; the
generated package talks to the app through a TestClient, one per role.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenStore
from domain.infra.database import Database

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "syncledger_client"


@pytest.fixture(scope="session")
def sl(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The generated package, as one namespace: `sl.api`, `sl.models`, `sl.AuthenticatedClient`."""
    work = tmp_path_factory.mktemp("generated-client")
    app = create_app(Database.from_url(f"sqlite:///{work}/spec.db"), start_background=False)
    with TestClient(app) as client:
        served = client.get("/openapi.json")
    assert served.status_code == 200
    (work / "openapi.json").write_text(served.text)
    (work / "config.yaml").write_text(
        f"package_name_override: {PACKAGE}\nproject_name_override: syncledger-client\n"
        "post_hooks: []\n"
    )
    done = subprocess.run(
        [str(GENERATOR), "generate", "--path", "openapi.json", "--output-path", PACKAGE]
        + ["--meta", "none", "--config", "config.yaml"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # A schema the generator could not turn into typed code shows up as a warning.
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(work))
    namespace = ModuleType("sl")
    namespace.root = importlib.import_module(PACKAGE)  # type: ignore[attr-defined]
    namespace.models = importlib.import_module(f"{PACKAGE}.models")  # type: ignore[attr-defined]
    for tag in ("registrations", "sessions", "receipts", "sync_requests", "audit", "health"):
        for path in (work / PACKAGE / "api" / tag).glob("*.py"):
            if path.stem != "__init__":
                module = importlib.import_module(f"{PACKAGE}.api.{tag}.{path.stem}")
                setattr(namespace, path.stem, module)
    return namespace


class Roles:
    """A generated AuthenticatedClient per role, each speaking to the app in-process."""

    def __init__(self, sl: ModuleType, app: Any, tokens: dict[str, str]) -> None:
        self.clients: dict[str, Any] = {}
        for role, token in tokens.items():
            client = sl.root.AuthenticatedClient(
                base_url="http://testserver", token=token, raise_on_unexpected_status=True
            )
            client.set_httpx_client(TestClient(app, headers={"Authorization": f"Bearer {token}"}))
            self.clients[role] = client

    def __getattr__(self, role: str) -> Any:
        return self.clients[role]


@pytest.fixture
def roles(sl: ModuleType, database: Database) -> Iterator[Roles]:
    store = TokenStore(database)
    tokens = {role: store.create(f"{role}-1", role) for role in ("worker", "support", "auditor")}
    store.close()
    app = create_app(database)
    with TestClient(app):  # runs the lifespan: the projection runners follow the log
        yield Roles(sl, app, tokens)


def test_walkthrough_accountlink_stuck_session(sl: ModuleType, roles: Roles) -> None:
    m = sl.models
    reg = sl.register.sync(
        client=roles.worker,
        body=m.RegistrationIn(
            product="accountlink-quickbooks", file_id="C:\\Books\\acme.qbw", name="Acme Ltd"
        ),
    )
    assert isinstance(reg, m.Registration) and isinstance(reg.id, UUID)
    assert reg.name == "Acme Ltd" and reg.sync_interval_minutes == 30
    again = sl.register.sync_detailed(
        client=roles.worker,
        body=m.RegistrationIn(product="accountlink-quickbooks", file_id="C:\\Books\\acme.qbw"),
    )
    assert again.status_code == 200 and again.parsed.id == reg.id

    stuck = sl.start_session.sync(
        reg.id, client=roles.worker, body=m.SessionIn(sync_type="time", worker="ACME-SRV01")
    )
    assert isinstance(stuck, m.Session) and stuck.status == "in_progress"
    # The agent dies; its next attempt is refused with the one error body, parsed.
    refused = sl.start_session.sync_detailed(
        reg.id, client=roles.worker, body=m.SessionIn(sync_type="time")
    )
    assert refused.status_code == 409
    assert isinstance(refused.parsed, m.ErrorBody)
    assert refused.parsed.error.code == "session_in_progress"
    assert refused.parsed.error.details["blocking_session_id"] == str(stuck.id)

    found = sl.list_registrations.sync(
        client=roles.support, product="accountlink-quickbooks", min_position=stuck.position
    )
    assert [item.id for item in found.items] == [reg.id]
    assert found.items[0].total_syncs == 1
    history = sl.list_sessions.sync(reg.id, client=roles.support)
    assert [(s.id, s.status, s.records_synced) for s in history.items] == [
        (stuck.id, "in_progress", 0)
    ]
    check = sl.get_session.sync(reg.id, stuck.id, client=roles.support).deletion_check
    assert check.safe is True and check.failed_checks == []

    reason = "stuck since the VPN dropped"
    dry = sl.delete_session.sync(
        reg.id, stuck.id, client=roles.support, body=m.DeleteIn(reason=reason, dry_run=True)
    )
    assert dry.deleted is False and dry.would_unsync == 0 and dry.deletion_check.safe
    deleted = sl.delete_session.sync(
        reg.id, stuck.id, client=roles.support, body=m.DeleteIn(reason=reason)
    )
    assert deleted.deleted is True and deleted.unsynced == 0
    # A worker can never delete: 403, parsed.
    forbidden = sl.delete_session.sync(
        reg.id, stuck.id, client=roles.worker, body=m.DeleteIn(reason=reason)
    )
    assert isinstance(forbidden, m.ErrorBody) and forbidden.error.code == "forbidden"

    # The agent syncs again: records, an error, complete.
    old = sl.start_session.sync(reg.id, client=roles.worker, body=m.SessionIn(sync_type="time"))
    batch = sl.record_batch.sync(
        reg.id,
        old.id,
        client=roles.worker,
        body=m.BatchIn(records=[m.RecordIn(entity_type="invoice", key="INV-1", digest="d1")]),
    )
    assert (batch.accepted, batch.duplicates, batch.records_synced) == (1, 0, 1)
    done = sl.complete_session.sync(reg.id, old.id, client=roles.worker, body=m.CompleteIn())
    assert done.status == "completed" and done.ended_at is not None

    # Deleting it needs the override and a ticket; the refusal names the failed checks.
    unsafe = sl.delete_session.sync(
        reg.id, old.id, client=roles.support, body=m.DeleteIn(reason="customer asked")
    )
    assert unsafe.error.code == "unsafe_deletion"
    assert "has_records" in unsafe.error.details["failed_checks"]
    overridden = sl.delete_session.sync(
        reg.id,
        old.id,
        client=roles.support,
        body=m.DeleteIn(reason="customer asked", override=True, ticket="SUP-1234"),
    )
    assert overridden.unsynced == 1

    audit = sl.list_audit.sync(
        client=roles.auditor, registration_id=reg.id, min_position=overridden.position
    )
    entry = next(e for e in audit.items if e.session_id == old.id)
    assert (entry.type_, entry.ticket, entry.unsynced, entry.undone_by) == (
        "session_deleted",
        "SUP-1234",
        1,
        None,
    )
    undone = sl.undo.sync(
        entry.position, client=roles.support, body=m.UndoIn(reason="deleted the wrong session")
    )
    assert isinstance(undone, m.UndoOut)
    assert (undone.undone, undone.receipts_restored, undone.receipts_skipped) == (
        entry.position,
        1,
        0,
    )
    twice = sl.undo.sync(entry.position, client=roles.support, body=m.UndoIn(reason="again"))
    assert twice.error.code == "not_undoable"

    reset = sl.reset_registration.sync(
        reg.id,
        client=roles.support,
        body=m.ResetIn(reason="start over", confirm_file_id="C:\\Books\\acme.qbw"),
    )
    assert isinstance(reset, m.ResetOut) and reset.unsynced == 1
    verified = sl.verify_log.sync(client=roles.auditor)
    assert verified.ok is True and verified.head.position >= reset.position


def test_walkthrough_oneclick_syncworker(sl: ModuleType, roles: Roles) -> None:
    m = sl.models
    reg = sl.register.sync(
        client=roles.worker,
        body=m.RegistrationIn(
            product="cch-oneclick", file_id="CCH-Central-PRD", sync_interval_minutes=30
        ),
    )
    session = sl.start_session.sync(
        reg.id,
        client=roles.worker,
        body=m.SessionIn(
            sync_type="periodic",
            worker="PRACTICE-SRV",
            entity_types=["Client List", "Employee List"],
        ),
    )
    assert session.entity_types == ["Client List", "Employee List"]
    body = m.BatchIn(
        batch_id="b-1",
        records=[
            m.RecordIn(entity_type="Client List", key="C0001", digest="9f2c"),
            m.RecordIn(entity_type="Employee List", key="E17", digest="a1b2"),
        ],
    )
    batch = sl.record_batch.sync(reg.id, session.id, client=roles.worker, body=body)
    assert (batch.accepted, batch.duplicates, batch.records_synced) == (2, 0, 2)
    repeat = sl.record_batch.sync(reg.id, session.id, client=roles.worker, body=body)
    assert repeat.records_synced == 2 and repeat.accepted == 0

    error = sl.record_error.sync(
        reg.id,
        session.id,
        client=roles.worker,
        body=m.ErrorIn(message="HMRC credentials expired", entity_type="HMRC Credentials List"),
    )
    assert isinstance(error, m.ErrorRecorded) and error.session_id == session.id
    status = sl.get_registration.sync(reg.id, client=roles.support, min_position=error.position)
    assert status.status.state == "in_progress"
    assert status.status.message.startswith("Synchronisation is currently in progress")
    done = sl.complete_session.sync(reg.id, session.id, client=roles.worker, body=m.CompleteIn())
    assert done.status == "completed" and done.error_count == 1

    diff = sl.diff_receipts.sync(
        reg.id,
        client=roles.worker,
        min_position=done.position,
        body=m.DiffIn(
            records=[
                m.RecordIn(entity_type="Client List", key="C0001", digest="new"),
                m.RecordIn(entity_type="Employee List", key="E17", digest="a1b2"),
                m.RecordIn(entity_type="Client List", key="C0002", digest="x"),
            ]
        ),
    )
    assert [(r.entity_type, r.key) for r in diff.changed] == [("Client List", "C0001")]
    assert [(r.entity_type, r.key) for r in diff.missing] == [("Client List", "C0002")]
    assert diff.unchanged == 1
    receipts = sl.list_receipts.sync(reg.id, client=roles.auditor, entity_type="Employee List")
    assert [(r.key, r.session_id) for r in receipts.items] == [("E17", session.id)]

    idle = sl.get_registration.sync(reg.id, client=roles.support)
    assert idle.status.state == "idle" and idle.status.next_scheduled_sync is not None
    unconfirmed = sl.request_sync.sync_detailed(
        reg.id, client=roles.support, body=m.SyncRequestIn(kind=m.SyncRequestInKind.FULL)
    )
    assert unconfirmed.status_code == 422
    assert unconfirmed.parsed.error.code == "validation_error"
    requested = sl.request_sync.sync(
        reg.id,
        client=roles.support,
        body=m.SyncRequestIn(kind=m.SyncRequestInKind.FULL, confirm=True),
    )
    assert isinstance(requested, m.SyncRequest) and requested.status == "pending"
    pending = sl.list_sync_requests.sync(
        reg.id, client=roles.worker, status="pending", min_position=requested.position
    )
    assert [r.id for r in pending.items] == [requested.id]
    full = sl.start_session.sync(
        reg.id,
        client=roles.worker,
        body=m.SessionIn(sync_type="full", request_id=requested.id),
    )
    assert full.request_id == requested.id
    history = sl.list_sessions.sync(reg.id, client=roles.support, min_position=full.position)
    assert [s.sync_type for s in history.items] == ["full", "periodic"]
    records = sl.list_session_records.sync(reg.id, session.id, client=roles.support)
    assert {(r.key, r.receipt_current) for r in records.items} == {
        ("C0001", True),
        ("E17", True),
    }
    health = sl.health.sync(client=roles.auditor)
    assert health.status == "ok" and health.projections["sessions"].lag >= 0
