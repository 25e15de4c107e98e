"""The console through FastAPI's TestClient, on SQLite and PostgreSQL (fast; no browser)."""

from __future__ import annotations

import re

from console_kit import Console, csrf_of

FULL_SYNC_WORDING = (
    "All data/team security from on-premise to the cloud will resynchronise for Making Tax "
    "Digital and Open Integration"
)


def _position(c: Console) -> int:
    return int(c.services.ledger.current_position())


# --- signing in ------------------------------------------------------------------------


def test_pages_need_sign_in(console: Console) -> None:
    r = console.client.get("/console/registrations", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/console/sign-in?next=")
    r = console.client.get("/console/sign-in")
    assert r.status_code == 200 and 'name="token"' in r.text


def test_sign_in_sets_an_httponly_strict_cookie_and_sign_out_clears_it(
    console: Console,
) -> None:
    r = console.client.post(
        "/console/sign-in", data={"token": console.tokens["support"]}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/registrations"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    page = console.client.get("/console/registrations")
    assert "sam.support" in page.text
    r = console.client.post(
        "/console/sign-out", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303
    console.client.cookies.clear()
    assert console.client.get("/console/registrations", follow_redirects=False).status_code == 303


def test_unknown_and_worker_tokens_cannot_sign_in(console: Console) -> None:
    r = console.client.post("/console/sign-in", data={"token": "nope"}, follow_redirects=False)
    assert r.status_code == 401 and "unknown or revoked" in r.text
    r = console.client.post(
        "/console/sign-in", data={"token": console.tokens["worker"]}, follow_redirects=False
    )
    assert r.status_code == 401 and "worker token" in r.text
    assert "set-cookie" not in r.headers
    # A worker token planted in the cookie is no better.
    console.client.cookies.set("syncledger_console", console.tokens["worker"], path="/console")
    assert console.client.get("/console/registrations", follow_redirects=False).status_code == 303


def test_revoked_token_is_signed_out_at_once(console: Console) -> None:
    console.sign_in("support")
    assert console.client.get("/console/registrations").status_code == 200
    console.services.tokens.revoke("sam.support")
    assert console.client.get("/console/registrations", follow_redirects=False).status_code == 303


# --- reading -----------------------------------------------------------------------------


def test_registrations_list_sorts_and_shows_the_stuck_badge(console: Console) -> None:
    console.sign_in("auditor")
    page = console.client.get("/console/registrations").text
    assert "Acme Ltd (QuickBooks)" in page and "Practice (CCH Central)" in page
    assert "1 stuck" in page
    newest_first = page.index("Practice (CCH Central)") < page.index("Acme Ltd (QuickBooks)")
    assert newest_first  # OneClick was registered last
    oldest = console.client.get("/console/registrations?sort=last_updated&order=asc").text
    assert oldest.index("Acme Ltd (QuickBooks)") < oldest.index("Practice (CCH Central)")
    assert 'href="/console/registrations/' + str(console.seeded.accountlink) in page


def test_session_history_detail_and_deletion_check_in_words(console: Console) -> None:
    console.sign_in("support")
    s = console.seeded
    history = console.client.get(f"/console/registrations/{s.accountlink}").text
    row = re.search(rf'<tr class="row-stuck" data-session="{s.stuck}">.*?</tr>', history, re.S)
    assert row and "badge-stuck" in row.group(0)
    assert "Delete selected…" in history
    assert f'name="sid" value="{s.stuck}"' in history
    # Act where you look: the stuck row carries its dry-run verdict and its own Delete.
    note = re.search(
        rf'<tr class="note-row row-stuck-note" data-stuck-for="{s.stuck}">.*?</tr>', history, re.S
    )
    assert note and "safe to delete" in note.group(0)
    assert f"/delete?sid={s.stuck}" in note.group(0)
    safe = console.client.get(f"/console/registrations/{s.accountlink}/sessions/{s.stuck}").text
    assert "Safe to delete" in safe
    unsafe = console.client.get(
        f"/console/registrations/{s.accountlink}/sessions/{s.completed}"
    ).text
    assert "Not safe to delete" in unsafe
    assert "Has 4 synced records (must be 0)" in unsafe
    assert "Status is completed (must be in progress)" in unsafe
    assert "Not the most recent time session" in unsafe  # the stuck one is
    assert "TE-0004" in unsafe  # its records
    failed = console.client.get(f"/console/registrations/{s.oneclick}/sessions/{s.failed}").text
    assert "HMRC credentials rejected" in failed and "Connection to OneClick lost" in failed


def test_worker_status_page(console: Console) -> None:
    console.sign_in("support")
    s = console.seeded
    page = console.client.get(f"/console/registrations/{s.oneclick}/worker").text
    assert "Next scheduled sync" in page
    assert "HMRC credentials rejected: token expired" in page
    assert "Run Synchronisation" in page and "Full Synchronisation" in page
    stuck = console.client.get(f"/console/registrations/{s.accountlink}/worker").text
    # Issue 14: a STUCK session is never reported as a synchronisation in progress.
    assert "Synchronisation is currently in progress" not in stuck
    assert "1 session stuck" in stuck and 'pill pill-stuck">Stuck' in stuck


def test_auditor_sees_everything_and_no_control_that_changes_anything(console: Console) -> None:
    s = console.seeded
    console.sign_in("support")
    confirm = console.client.get(f"/console/registrations/{s.accountlink}/delete?sid={s.stuck}")
    console.client.post(
        f"/console/registrations/{s.accountlink}/delete",
        data={"sid": s.stuck, "reason": "stuck", "csrf": csrf_of(confirm.text)},
    )
    console.sign_in("auditor")
    for path in (
        "/console/registrations",
        f"/console/registrations/{s.accountlink}?show_deleted=1",
        f"/console/registrations/{s.accountlink}/sessions/{s.stuck}",
        f"/console/registrations/{s.accountlink}/sessions/{s.completed}",
        f"/console/registrations/{s.oneclick}/worker",
        "/console/audit",
    ):
        page = console.client.get(path)
        assert page.status_code == 200, path
        main = page.text.split("<main", 1)[1]
        assert 'method="post"' not in main, path
        assert 'type="checkbox"' not in main, path
        buttons = re.findall(r"<button[^>]*>([^<]*)</button>", main)
        assert set(buttons) <= {"Filter"}, (path, buttons)
        for label in ("Delete", "Undo", "Run Synchronisation", "Full Synchronisation"):
            assert f">{label}</button>" not in main, (path, label)
    audit = console.client.get("/console/audit").text
    assert "sam.support" in audit and "Session deleted" in audit


# --- refusals ----------------------------------------------------------------------------


def test_auditor_writes_are_refused_server_side_and_record_nothing(console: Console) -> None:
    s = console.seeded
    console.sign_in("auditor")
    csrf = csrf_of(console.client.get("/console/registrations").text)
    before = _position(console)
    attempts = [
        (
            f"/console/registrations/{s.accountlink}/delete",
            {"sid": s.stuck, "reason": "x", "csrf": csrf},
        ),
        (f"/console/registrations/{s.oneclick}/sync-requests", {"kind": "periodic", "csrf": csrf}),
        ("/console/audit/1/undo", {"reason": "x", "csrf": csrf}),
    ]
    for url, data in attempts:
        r = console.client.post(url, data=data)
        assert r.status_code == 403 and "Not allowed" in r.text, url
    r = console.client.get(f"/console/registrations/{s.accountlink}/delete?sid={s.stuck}")
    assert r.status_code == 403
    assert _position(console) == before


def test_writes_without_the_csrf_token_are_refused(console: Console) -> None:
    s = console.seeded
    console.sign_in("support")
    before = _position(console)
    r = console.client.post(
        f"/console/registrations/{s.accountlink}/delete", data={"sid": s.stuck, "reason": "x"}
    )
    assert r.status_code == 403 and "Form expired" in r.text
    r = console.client.post(
        f"/console/registrations/{s.oneclick}/sync-requests",
        data={"kind": "periodic", "csrf": "0" * 40},
    )
    assert r.status_code == 403
    r = console.client.post(
        f"/console/registrations/{s.oneclick}/sync-requests",
        data={"kind": "periodic", "csrf": csrf_of(console.client.get("/console/audit").text)},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    assert _position(console) == before


# --- deleting, undoing -----------------------------------------------------------------


def test_delete_the_stuck_session(console: Console) -> None:
    s = console.seeded
    console.sign_in("support")
    before = _position(console)
    confirm = console.client.get(f"/console/registrations/{s.accountlink}/delete?sid={s.stuck}")
    assert confirm.status_code == 200
    assert "dry run" in confirm.text and "No record will be unsynced" in confirm.text
    assert 'name="ticket"' not in confirm.text  # safe: no override needed
    assert _position(console) == before  # the dry run recorded nothing
    csrf = csrf_of(confirm.text)
    url = f"/console/registrations/{s.accountlink}/delete"
    r = console.client.post(url, data={"sid": s.stuck, "reason": " ", "csrf": csrf})
    assert r.status_code == 422 and "Give a reason" in r.text
    assert _position(console) == before
    r = console.client.post(url, data={"sid": s.stuck, "reason": "stuck", "csrf": csrf})
    assert r.status_code == 200 and "1 session deleted" in r.text
    session = console.services.read_models.get_session(s.accountlink, s.stuck)
    assert session["deleted"]["by"] == "sam.support"
    history = console.client.get(f"/console/registrations/{s.accountlink}").text
    assert f'data-session="{s.stuck}"' not in history
    shown = console.client.get(f"/console/registrations/{s.accountlink}?show_deleted=1").text
    assert f'<tr class="row-deleted" data-session="{s.stuck}">' in shown
    assert "Deleted by <strong>sam.support</strong>" in shown
    # Deleting it again is refused with a plain message.
    again = console.client.get(f"/console/registrations/{s.accountlink}/delete?sid={s.stuck}")
    assert "already deleted" in again.text


def test_unsafe_deletion_needs_override_and_ticket_then_undo(console: Console) -> None:
    s = console.seeded
    console.sign_in("support")
    confirm = console.client.get(f"/console/registrations/{s.accountlink}/delete?sid={s.completed}")
    assert "Not safe to delete" in confirm.text
    assert "4 records will be unsynced" in confirm.text and "TE-0004" in confirm.text
    assert 'name="ticket"' in confirm.text
    csrf = csrf_of(confirm.text)
    url = f"/console/registrations/{s.accountlink}/delete"
    before = _position(console)
    r = console.client.post(url, data={"sid": s.completed, "reason": "oops", "csrf": csrf})
    assert r.status_code == 422 and "not safe to delete" in r.text
    r = console.client.post(
        url, data={"sid": s.completed, "reason": "oops", "override": "1", "csrf": csrf}
    )
    assert r.status_code == 422 and "needs the ticket" in r.text
    assert _position(console) == before
    r = console.client.post(
        url,
        data={
            "sid": s.completed,
            "reason": "resend",
            "override": "1",
            "ticket": "SUP-1",
            "csrf": csrf,
        },
    )
    assert r.status_code == 200 and "4 records unsynced" in r.text

    audit = console.client.get("/console/audit").text
    entry = console.services.read_models.audit(
        registration_id=None, after=None, limit=10, cursor=None
    ).items[-1]
    assert entry["ticket"] == "SUP-1" and entry["override"] and entry["actor"] == "sam.support"
    assert f'id="entry-{entry["position"]}"' in audit and "SUP-1" in audit
    r = console.client.post(
        f"/console/audit/{entry['position']}/undo",
        data={"reason": "", "csrf": csrf_of(audit)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and _position(console) > before  # nothing more recorded:
    after_delete = _position(console)
    console.client.get("/console/audit")  # consume the "needs a reason" flash
    assert _position(console) == after_delete
    r = console.client.post(
        f"/console/audit/{entry['position']}/undo",
        data={"reason": "mistake", "csrf": csrf_of(audit)},
    )
    assert r.status_code == 200 and "back in the history" in r.text
    session = console.services.read_models.get_session(s.accountlink, s.completed)
    assert session["deleted"] is None and session["restored"]["by"] == "sam.support"
    # Undoing the same deletion twice is refused with the ledger's words.
    r = console.client.post(
        f"/console/audit/{entry['position']}/undo",
        data={"reason": "again", "csrf": csrf_of(audit)},
    )
    assert "refused" in r.text


# --- sync requests ---------------------------------------------------------------------


def test_run_and_full_synchronisation_create_sync_requests(console: Console) -> None:
    s = console.seeded
    console.sign_in("support")
    page = console.client.get(f"/console/registrations/{s.oneclick}/worker").text
    csrf = csrf_of(page)
    url = f"/console/registrations/{s.oneclick}/sync-requests"
    before = _position(console)
    r = console.client.post(url, data={"kind": "full", "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("/full-sync")
    assert _position(console) == before
    confirm = console.client.get(r.headers["location"]).text
    assert FULL_SYNC_WORDING in confirm
    r = console.client.post(url, data={"kind": "full", "confirm": "1", "csrf": csrf})
    assert r.status_code == 200 and "Full Synchronisation requested" in r.text
    r = console.client.post(url, data={"kind": "periodic", "csrf": csrf})
    assert "Run Synchronisation" in r.text
    pending = console.services.read_models.sync_requests(
        s.oneclick, status="pending", limit=10, cursor=None
    ).items
    assert sorted(q["kind"] for q in pending) == ["full", "periodic"]
    assert all(q["requested_by"] == "sam.support" for q in pending)


# --- plumbing ----------------------------------------------------------------------------


def test_security_headers_static_assets_and_dialog_fragment(console: Console) -> None:
    console.sign_in("support")
    r = console.client.get("/console/registrations")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert "http://" not in r.text.replace("http://testserver", "")
    assert "https://" not in r.text
    css = console.client.get("/console/static/console.css")
    js = console.client.get("/console/static/console.js")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert js.status_code == 200 and "showModal" in js.text
    assert console.client.get("/console/static/../app.py").status_code == 404
    s = console.seeded
    fragment = console.client.get(
        f"/console/registrations/{s.accountlink}/delete?sid={s.stuck}",
        headers={"X-Console-Dialog": "1"},
    ).text
    assert "<html" not in fragment and 'id="delete-confirm"' in fragment
    missing = console.client.get("/console/registrations/not-a-uuid")
    assert missing.status_code == 404
