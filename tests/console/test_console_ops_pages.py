"""Console operations through the TestClient on SQLite and PostgreSQL: registration settings
(rule 18), sync requests (rule 14) and webhooks."""

from __future__ import annotations

import re
import time
from typing import Any

from console_kit import Console, csrf_of
from standardwebhooks.webhooks import Webhook

from domain.values import Context
from tests.lifecycle.kit import receiver


def _flash(c: Console, path: str) -> str:
    page = c.client.get(path).text
    found = re.search(r'<div class="flash flash-(\w+)" role="status">([^<]*)</div>', page)
    assert found, "no flash message"
    return f"{found.group(1)}: {found.group(2)}"


# --- settings (rule 18) ------------------------------------------------------------------


def _settings_form(**changes: str) -> dict[str, str]:
    form = {
        "name": "Acme Ltd (QuickBooks)",
        "sync_interval_minutes": "30",
        "stuck_after_minutes": "120",
        "auto_remove": "",
        "auto_remove_stuck_after_minutes": "",
        "approvals_required": "",
    }
    return {**form, **changes}


def test_support_changes_settings_through_the_ledger_one_event(console: Console) -> None:
    c = console
    rid = c.seeded.accountlink
    c.sign_in("support")
    page = c.client.get(f"/console/registrations/{rid}/settings")
    assert page.status_code == 200 and 'id="settings-form"' in page.text
    csrf = csrf_of(page.text)
    before = c.services.ledger.current_position()
    form = _settings_form(
        stuck_after_minutes="90",
        auto_remove="1",
        auto_remove_stuck_after_minutes="240",
        approvals_required="1",
        csrf=csrf,
    )
    r = c.client.post(f"/console/registrations/{rid}/settings", data=form, follow_redirects=False)
    assert r.status_code == 303
    flash = _flash(c, r.headers["location"])
    assert flash.startswith("ok: Saved:") and "four-eyes approvals required" in flash
    assert "after 240 min" in flash and "stuck after 90 min" in flash
    assert c.services.ledger.current_position() == before + 1  # one event for the change
    reg = c.services.read_models.get_registration(rid)
    assert reg is not None
    assert reg["stuck_after_minutes"] == 90 and reg["auto_remove_stuck_after_minutes"] == 240
    assert reg["approvals_required"] is True
    # The same form again records nothing.
    r = c.client.post(f"/console/registrations/{rid}/settings", data=form, follow_redirects=False)
    assert _flash(c, r.headers["location"]) == "info: Nothing changed."
    assert c.services.ledger.current_position() == before + 1
    # Turning self-healing off is a change of its own.
    r = c.client.post(
        f"/console/registrations/{rid}/settings",
        data={**form, "auto_remove": ""},
        follow_redirects=False,
    )
    assert "automatic removal of stuck sessions turned off" in _flash(c, r.headers["location"])
    reg = c.services.read_models.get_registration(rid)
    assert reg is not None and reg["auto_remove_stuck_after_minutes"] is None


def test_settings_the_ledger_refuses_are_shown_and_nothing_is_recorded(
    console: Console,
) -> None:
    c = console
    rid = c.seeded.accountlink
    c.sign_in("support")
    csrf = csrf_of(c.client.get(f"/console/registrations/{rid}/settings").text)
    before = c.services.ledger.current_position()
    r = c.client.post(
        f"/console/registrations/{rid}/settings",
        data=_settings_form(auto_remove="1", auto_remove_stuck_after_minutes="30", csrf=csrf),
    )
    assert r.status_code == 422
    assert "must be at least" in r.text and 'id="auto_remove_stuck_after_minutes-error"' in r.text
    r = c.client.post(
        f"/console/registrations/{rid}/settings",
        data=_settings_form(sync_interval_minutes="half an hour", csrf=csrf),
    )
    assert r.status_code == 422 and "whole number of minutes" in r.text
    assert 'value="half an hour"' in r.text  # what was typed stays in the form
    r = c.client.post(
        f"/console/registrations/{rid}/settings", data=_settings_form(name="  ", csrf=csrf)
    )
    assert r.status_code == 422 and 'id="name-error"' in r.text
    assert c.services.ledger.current_position() == before


def test_auditors_read_settings_and_cannot_change_them(console: Console) -> None:
    c = console
    rid = c.seeded.accountlink
    c.sign_in("auditor")
    page = c.client.get(f"/console/registrations/{rid}/settings").text
    assert 'id="settings-readonly"' in page and 'id="settings-form"' not in page
    r = c.client.post(
        f"/console/registrations/{rid}/settings",
        data=_settings_form(approvals_required="1", csrf=csrf_of(page)),
    )
    assert r.status_code == 403 and "Only a support token" in r.text


# --- sync requests (rule 14) -------------------------------------------------------------


def test_one_pending_request_per_kind_shown_as_such_and_cancelled_with_a_reason(
    console: Console,
) -> None:
    c = console
    oid = c.seeded.oneclick
    c.sign_in("support")
    worker = f"/console/registrations/{oid}/worker"
    csrf = csrf_of(c.client.get(worker).text)
    url = f"/console/registrations/{oid}/sync-requests"
    r = c.client.post(url, data={"kind": "periodic", "csrf": csrf}, follow_redirects=False)
    assert _flash(c, r.headers["location"]).startswith("ok: Run Synchronisation")
    r = c.client.post(url, data={"kind": "periodic", "csrf": csrf}, follow_redirects=False)
    assert "is already pending" in _flash(c, r.headers["location"])
    pending = c.services.read_models.sync_requests(oid, status="pending", limit=10).items
    assert len(pending) == 1
    request_id = pending[0]["id"]
    page = c.client.get(worker).text
    assert 'data-pending-kind="periodic"' in page and 'id="run-sync"' not in page
    assert 'id="full-sync"' in page  # the other kind can still be asked for
    cancel = f"{url}/{request_id}/cancel"
    assert f'action="{cancel}"' in page
    r = c.client.post(cancel, data={"reason": " ", "csrf": csrf}, follow_redirects=False)
    assert "needs a reason" in _flash(c, r.headers["location"])
    assert len(c.services.read_models.sync_requests(oid, status="pending", limit=10).items) == 1
    r = c.client.post(
        cancel, data={"reason": "Asked on the wrong practice", "csrf": csrf}, follow_redirects=False
    )
    assert _flash(c, r.headers["location"]).startswith("ok: The pending Run Synchronisation")
    assert not c.services.read_models.sync_requests(oid, status="pending", limit=10).items
    page = c.client.get(worker).text
    assert 'id="run-sync"' in page and "Asked on the wrong practice" in page
    r = c.client.post(cancel, data={"reason": "again", "csrf": csrf}, follow_redirects=False)
    assert _flash(c, r.headers["location"]).startswith("error: Nothing was cancelled")


def test_accountlink_shows_no_oneclick_buttons_and_auditors_no_cancel(console: Console) -> None:
    c = console
    c.sign_in("support")
    page = c.client.get(f"/console/registrations/{c.seeded.accountlink}/worker").text
    assert 'id="requests-note"' in page and "Accountlink connector" in page
    assert 'id="run-sync"' not in page and 'id="full-sync"' not in page
    oid = c.seeded.oneclick
    csrf = csrf_of(c.client.get(f"/console/registrations/{oid}/worker").text)
    c.client.post(
        f"/console/registrations/{oid}/sync-requests", data={"kind": "periodic", "csrf": csrf}
    )
    c.sign_in("auditor")
    page = c.client.get(f"/console/registrations/{oid}/worker").text
    assert 'data-pending-kind="periodic"' in page and "/cancel" not in page


# --- webhooks ----------------------------------------------------------------------------


def _wait_delivered(c: Console, hook_id: str) -> list[dict[str, Any]]:
    """Until serve's background delivery has answered (it runs in the app's lifespan)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        items, _ = c.services.webhooks.deliveries(hook_id, status=None, limit=10, cursor=None)
        if items and all(i["status"] != "pending" or i["attempts"] for i in items):
            return items
        time.sleep(0.05)
    raise AssertionError("no delivery was attempted")


def test_webhooks_created_with_the_secret_once_delivered_logged_and_deleted(
    console: Console,
) -> None:
    c = console
    c.sign_in("support")
    page = c.client.get("/console/webhooks").text
    csrf = csrf_of(page)
    r = c.client.post(
        "/console/webhooks",
        data={"url": "ftp://alerts.example.com", "events": ["session.deleted"], "csrf": csrf},
    )
    assert r.status_code == 422 and "must be an absolute http" in r.text
    r = c.client.post("/console/webhooks", data={"url": "https://a.example", "csrf": csrf})
    assert r.status_code == 422 and "The events" in r.text
    assert c.services.webhooks.list_hooks(limit=10, cursor=None)[0] == []
    with receiver() as rx:
        r = c.client.post(
            "/console/webhooks",
            data={
                "url": rx.url,
                "events": ["session.deleted", "action.undone"],
                "description": "Support alerts",
                "csrf": csrf,
            },
        )
        assert r.status_code == 201
        secret = re.search(r'id="webhook-secret"[^>]*value="(whsec_[^"]+)"', r.text)
        assert secret is not None
        hooks, _ = c.services.webhooks.list_hooks(limit=10, cursor=None)
        assert len(hooks) == 1 and hooks[0]["created_by"] == "sam.support"
        hook_id = hooks[0]["id"]
        listing = c.client.get("/console/webhooks").text
        assert rx.url in listing and secret.group(1) not in listing  # shown once
        c.services.ledger.delete_session(
            Context.system("kim.support"),
            c.seeded.accountlink,
            c.seeded.stuck,
            reason="stuck since the upgrade",
        )
        items = _wait_delivered(c, hook_id)
        assert [i["status"] for i in items] == ["delivered"]
        # The receiver can check the signature with the secret the page showed.
        Webhook(secret.group(1)).verify(rx.received[0].body, rx.received[0].headers)
    log = c.client.get(f"/console/webhooks/{hook_id}").text
    assert 'data-status="delivered"' in log and "session.deleted" in log and "HTTP 200" in log
    r = c.client.post(
        f"/console/webhooks/{hook_id}/delete", data={"csrf": csrf}, follow_redirects=False
    )
    assert "is deleted" in _flash(c, r.headers["location"])
    assert c.services.webhooks.list_hooks(limit=10, cursor=None)[0] == []
    assert "deleted" in c.client.get(f"/console/webhooks/{hook_id}").text  # the log stays
    r = c.client.post(
        f"/console/webhooks/{hook_id}/delete", data={"csrf": csrf}, follow_redirects=False
    )
    assert _flash(c, r.headers["location"]).startswith("error: Nothing was deleted")


def test_webhooks_are_for_support_only(console: Console) -> None:
    c = console
    c.sign_in("auditor")
    page = c.client.get("/console/registrations").text
    assert 'id="nav-webhooks"' not in page
    assert c.client.get("/console/webhooks").status_code == 403
    r = c.client.post("/console/webhooks", data={"url": "https://a.example", "csrf": "x"})
    assert r.status_code == 403
