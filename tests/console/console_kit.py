"""Shared helpers for the console tests (not a test module): seed history, tokens, clock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

import pytest
from fastapi.testclient import TestClient

from domain.ledger import Ledger
from domain.values import Context

ACCOUNTLINK = ("accountlink-quickbooks", r"C:\Books\acme.qbw", "Acme Ltd (QuickBooks)")
ONECLICK = ("cch-oneclick", "CENTRAL01/practice", "Practice (CCH Central)")
NS = UUID("5b1e7c53-6d0e-4c1a-9d53-1f6e0a2b8c11")
HOURS_AHEAD = 3


def sid(name: str) -> str:
    return str(uuid5(NS, name))


@dataclass(frozen=True)
class Seeded:
    accountlink: UUID
    oneclick: UUID
    stuck: str  # the stuck time session: 0 records, in progress, most recent of its type
    completed: str  # the newest completed time session (has records; only fallback elsewhere)
    custom: str  # a completed custom session
    failed: str  # a failed OneClick periodic session with errors


def seed(ledger: Ledger) -> Seeded:
    """Both articles' situations, small: an Accountlink bucket with a stuck time session and
    a OneClick registration with periodic/full syncs, errors and a failed sync."""
    agent = Context.system("accountlink-admin")
    product, file_id, name = ACCOUNTLINK
    rid = ledger.register(agent, product=product, file_id=file_id, name=name).registration_id
    for n in range(3):
        s = ledger.start_session(
            agent, rid, sync_type="time", session_id=sid(f"time-{n}"), worker="ACME-PC01"
        ).session_id
        records = [("Time Entries", f"TE-{k:04d}", f"d{n}-{k}") for k in range(n * 2, n * 2 + 4)]
        ledger.record_batch(agent, rid, s, records)
        ledger.complete_session(agent, rid, s)
    custom = ledger.start_session(
        agent, rid, sync_type="custom", session_id=sid("custom-0"), worker="ACME-PC01"
    ).session_id
    ledger.record_batch(agent, rid, custom, [("Customers", "CUS-0001", "c1")])
    ledger.complete_session(agent, rid, custom)
    stuck = ledger.start_session(
        agent, rid, sync_type="time", session_id=sid("time-stuck"), worker="ACME-PC01"
    ).session_id

    worker = Context.system("oneclick-syncworker")
    product, file_id, name = ONECLICK
    oid = ledger.register(worker, product=product, file_id=file_id, name=name).registration_id
    # OneClick's SyncWorker picks sync requests up: its full sync fulfilled one.
    asked = ledger.request_sync(Context.system("kim.support"), oid, kind="full", confirm=True)
    full = ledger.start_session(
        worker,
        oid,
        sync_type="full",
        session_id=sid("oc-full"),
        worker="CENTRAL01",
        entity_types=["Client List", "Team Security"],
        request_id=asked.request_id,
    ).session_id
    ledger.record_batch(
        worker,
        oid,
        full,
        [("Client List", f"client-{k}", "x") for k in range(5)]
        + [("Team Security", "team-1", "t")],
    )
    ledger.complete_session(worker, oid, full)
    failed = ledger.start_session(
        worker, oid, sync_type="periodic", session_id=sid("oc-periodic"), worker="CENTRAL01"
    ).session_id
    ledger.record_error(
        worker,
        oid,
        failed,
        message="HMRC credentials rejected: token expired",
        entity_type="HMRC Credentials List",
        key="hmrc-3",
    )
    ledger.fail_session(worker, oid, failed, reason="Connection to OneClick lost")
    return Seeded(rid, oid, stuck, sid("time-2"), custom, failed)


@dataclass
class Clock:
    """How far ahead of real time the read models' clock runs (decides "stuck")."""

    hours: float = HOURS_AHEAD


def clock_ahead(monkeypatch: pytest.MonkeyPatch, hours: float = HOURS_AHEAD) -> Clock:
    """Make the read models' clock run `hours` ahead, so an idle session counts as stuck.
    Set the returned clock's `hours` to 0 to go back to real time."""
    from projections import fmt
    from projections.reads import registrations as reg_reads
    from projections.reads import sessions as session_reads

    real = fmt.now_micros
    clock = Clock(hours)

    def ahead() -> int:
        return real() + int(clock.hours * 3600 * 1_000_000)

    monkeypatch.setattr(reg_reads, "now_micros", ahead)
    monkeypatch.setattr(session_reads, "now_micros", ahead)
    return clock


def make_tokens(services: Any) -> dict[str, str]:
    return {
        "support": services.tokens.create("sam.support", "support"),
        "support2": services.tokens.create("kim.support", "support"),
        "auditor": services.tokens.create("ada.auditor", "auditor"),
        "worker": services.tokens.create("acme-pc01", "worker"),
    }


CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@dataclass
class Console:
    client: TestClient
    services: Any
    tokens: dict[str, str]
    seeded: Seeded

    def sign_in(self, role: str) -> None:
        self.client.cookies.clear()
        response = self.client.post(
            "/console/sign-in", data={"token": self.tokens[role]}, follow_redirects=False
        )
        assert response.status_code == 303, response.text

    def settle(self) -> None:
        position = self.services.ledger.current_position()
        assert self.services.read_models.wait_for(position, 10)
