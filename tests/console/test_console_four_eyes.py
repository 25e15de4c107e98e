"""Four-eyes in the console (rule 17), through the TestClient on SQLite and PostgreSQL.

Before: an override deletion or a reset on a registration with `approvals_required` made
in the console answered 500 (the console expected the action to be carried out at once).
"""

from __future__ import annotations

import re

from console_kit import Console, csrf_of

from domain.values import Context


def _four_eyes(c: Console) -> str:
    rid = c.seeded.accountlink
    c.services.ledger.update_settings(
        Context.system("kim.support"), rid, {"approvals_required": True}
    )
    c.settle()
    return str(rid)


def _flash(c: Console, path: str) -> str:
    page = c.client.get(path).text
    found = re.search(r'<div class="flash flash-(\w+)" role="status">([^<]*)</div>', page)
    assert found, "no flash message"
    return f"{found.group(1)}: {found.group(2)}"


def test_override_deletion_waits_for_a_different_support_token(console: Console) -> None:
    c = console
    rid = _four_eyes(c)
    sid = c.seeded.completed  # has records: only an override deletes it
    c.sign_in("support")
    confirm = c.client.get(f"/console/registrations/{rid}/delete?sid={sid}").text
    assert 'id="four-eyes-note"' in confirm
    r = c.client.post(
        f"/console/registrations/{rid}/delete",
        data={
            "sid": sid,
            "reason": "Support asked to remove the duplicate",
            "override": "1",
            "ticket": "SUP-77",
            "csrf": csrf_of(confirm),
        },
    )
    assert r.status_code == 202, r.text
    assert "Waiting for approval" in r.text and "Nothing is deleted yet" in r.text
    approval_id = re.search(r'href="/console/approvals/([0-9a-f-]{36})"', r.text)
    assert approval_id is not None
    aid = approval_id.group(1)
    c.settle()
    session = c.services.read_models.get_session(c.seeded.accountlink, sid)
    assert session is not None and not session["deleted"]

    # The requester's view: what waits, no button to decide it, and a refusal if tried.
    mine = c.client.get(f"/console/approvals/{aid}").text
    assert "Waiting for approval" in mine and "You cannot decide your own request" in mine
    assert f"/console/approvals/{aid}/approve" not in mine
    history = c.client.get(f"/console/registrations/{rid}").text
    assert 'id="pending-approvals"' in history and f"/console/approvals/{aid}" in history
    r = c.client.post(
        f"/console/approvals/{aid}/approve",
        data={"csrf": csrf_of(mine), "back": f"/console/approvals/{aid}"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    flash = _flash(c, r.headers["location"])
    assert flash.startswith("error: You asked for this yourself"), flash
    assert c.services.read_models.get_approval(aid)["status"] == "pending"

    # A different support token sees the buttons and approves: the deletion is carried out.
    c.sign_in("support2")
    listing = c.client.get("/console/approvals").text
    assert f"/console/approvals/{aid}/approve" in listing and "would be unsynced" in listing
    r = c.client.post(
        f"/console/approvals/{aid}/approve",
        data={"csrf": csrf_of(listing), "reason": "Checked with the customer"},
    )
    assert r.status_code == 200, r.text
    assert "Approved and carried out" in r.text and "as sam.support asked" in r.text
    assert 'id="undo-approved"' in r.text
    c.settle()
    session = c.services.read_models.get_session(c.seeded.accountlink, sid)
    assert session is not None and session["deleted"]
    row = c.services.read_models.get_approval(aid)
    assert row["status"] == "approved" and row["decided_by"] == "kim.support"
    entry = next(
        e
        for e in c.services.read_models.audit(
            registration_id=c.seeded.accountlink, after=None, limit=50, cursor=None
        ).items
        if e["type"] == "session_deleted"
    )
    assert entry["actor"] == "kim.support" and "requested by sam.support" in entry["reason"]
    # The carried-out deletion is undone like any other, from beside the result.
    undo = re.search(r'action="(/console/audit/\d+/undo)"', r.text)
    assert undo is not None
    back = c.client.post(undo.group(1), data={"csrf": csrf_of(listing), "reason": "Wrong session"})
    assert back.status_code == 200 and "is back in the history" in back.text
    c.settle()
    assert not c.services.read_models.get_session(c.seeded.accountlink, sid)["deleted"]
    # Deciding again is refused in words.
    r = c.client.post(
        f"/console/approvals/{aid}/reject",
        data={"csrf": csrf_of(listing)},
        follow_redirects=False,
    )
    assert _flash(c, r.headers["location"]).startswith("error: Nothing was changed")


def test_reset_waits_and_a_rejection_changes_nothing(console: Console) -> None:
    c = console
    rid = _four_eyes(c)
    receipts = c.services.read_models.count_receipts(c.seeded.accountlink)
    c.sign_in("support")
    confirm = c.client.get(f"/console/registrations/{rid}/reset").text
    assert "Ask for approval to reset" in confirm
    r = c.client.post(
        f"/console/registrations/{rid}/reset",
        data={
            "reason": "Customer restored a backup",
            "confirm_file_id": r"C:\Books\acme.qbw",
            "csrf": csrf_of(confirm),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/console/approvals/")
    aid = r.headers["location"].rsplit("/", 1)[1]
    assert "Reset requested" in _flash(c, r.headers["location"])
    c.sign_in("auditor")  # auditors read approvals and cannot decide
    seen = c.client.get("/console/approvals").text
    assert f'data-approval="{aid}"' in seen and "/approve" not in seen
    c.sign_in("support2")
    page = c.client.get(f"/console/approvals/{aid}").text
    assert "Would remove" in page
    r = c.client.post(
        f"/console/approvals/{aid}/reject",
        data={"csrf": csrf_of(page), "reason": "Not with the month-end run going"},
    )
    assert r.status_code == 200 and "Rejected" in r.text and "nothing was changed" in r.text
    c.settle()
    assert c.services.read_models.count_receipts(c.seeded.accountlink) == receipts
    assert c.services.read_models.get_approval(aid)["status"] == "rejected"
