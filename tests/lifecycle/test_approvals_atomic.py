"""Rule 17 is decided inside the command (issue 13): whether an override deletion or a reset
needs a second support token is read in the same unit of work that acts, so support turning
approvals_required on while the action is in flight never lets it through unapproved.

Two ledgers (as two serve processes would): the first loads the registration, and at that
moment the second turns approvals_required on. The first's save then conflicts, its command
runs again on fresh state and asks for an approval instead. Both backends.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from domain.approvals import ApprovalPending
from domain.ledger import Ledger
from domain.registration import Registration
from domain.values import Context

SUPPORT = Context("sam.support", "race")


def _registration_with_an_unsafe_session(ledger: Ledger) -> tuple[UUID, str]:
    agent = Context("agent")
    rid = ledger.register(agent, product="p", file_id="f").registration_id
    sid = ledger.start_session(agent, rid, sync_type="time").session_id
    ledger.record_batch(agent, rid, sid, [("Client List", "1", "a")])
    return rid, sid


def _turn_approvals_on_once_loaded(
    monkeypatch: pytest.MonkeyPatch, first: Ledger, second: Ledger, rid: UUID
) -> list[int]:
    """The first time `first` loads the registration, `second` turns approvals_required on."""
    real = first.load_registration
    calls: list[int] = []

    def load(wanted: UUID) -> Registration:
        reg = real(wanted)
        calls.append(1)
        if len(calls) == 1:
            second.update_settings(SUPPORT, rid, {"approvals_required": True})
        return reg

    monkeypatch.setattr(first, "load_registration", load)
    return calls


def test_override_deletion_racing_the_setting_waits_for_approval(
    ledgers: tuple[Ledger, Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = ledgers
    rid, sid = _registration_with_an_unsafe_session(first)
    calls = _turn_approvals_on_once_loaded(monkeypatch, first, second, rid)
    result: Any = first.delete_session(
        SUPPORT, rid, sid, reason="agent died", override=True, ticket="SUP-7"
    )
    assert isinstance(result, ApprovalPending), result
    assert len(calls) >= 2  # the first attempt lost to the settings change and ran again
    assert Ledger.get_session(second, rid, sid).deleted is None


def test_reset_racing_the_setting_waits_for_approval(
    ledgers: tuple[Ledger, Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = ledgers
    rid, _ = _registration_with_an_unsafe_session(first)
    _turn_approvals_on_once_loaded(monkeypatch, first, second, rid)
    result: Any = first.reset_registration(
        SUPPORT, rid, reason="restored backup", confirm_file_id="f"
    )
    assert isinstance(result, ApprovalPending), result
    assert not second.get_registration(rid).resets
