"""End-to-end: the console in headless Chromium (Debian's /usr/bin/chromium) via Playwright.

A real server (the app of api.app.create_app under uvicorn, on a free port, with a fresh
SQLite file) and the three scenarios of issue 5. Screenshots go to test-output/console/.
Without chromium or playwright these tests are skipped with the reason, unless
SYNCLEDGER_REQUIRE_BROWSER=1 (as in .ci/run), which fails them.
"""

from __future__ import annotations

from typing import Any

import httpx
from browser_kit import FULL_SYNC_WORDING, Server, axe_check, shot, sign_in
from console_kit import ACCOUNTLINK


def test_support_deletes_the_stuck_session_and_starts_over(page: Any, server: Server) -> None:
    s = server.seeded
    page.goto(f"{server.url}/console/sign-in")
    axe_check(page, "sign-in")
    sign_in(page, server, "support")
    axe_check(page, "registrations")
    shot(page, "01-registrations")
    row = page.locator(f"tr[data-registration='{s.accountlink}']")
    assert (row.locator(".badge-stuck").text_content() or "").strip() == "1 stuck"
    # Sort by Last Updated, oldest first then newest first, as the article's step 3.
    page.click("th >> text=Last Updated")
    page.click("th >> text=Last Updated")
    row.locator("td.num a").first.click()  # the Total Syncs number opens the history
    page.wait_for_selector("#sessions")
    stuck_row = page.locator(f"tr[data-session='{s.stuck}']")
    assert stuck_row.locator(".badge-stuck").is_visible()
    axe_check(page, "session history")
    shot(page, "02-session-history-stuck")

    stuck_row.locator("a").first.click()
    page.wait_for_selector("#deletion-check")
    assert "Safe to delete" in page.inner_text("#deletion-check")
    axe_check(page, "session detail")
    shot(page, "03-session-detail-safe")
    page.go_back()

    stuck_row.locator("input[type=checkbox]").check()
    page.click("#delete-selected")
    dialog = page.locator("dialog#confirm-dialog")
    dialog.wait_for(state="visible")
    text = dialog.inner_text()
    assert "Safe to delete" in text and "No record will be unsynced" in text
    assert dialog.locator("#ticket").count() == 0  # no override needed
    dialog.locator("#reason").fill("Stuck time session after the connection dropped")
    axe_check(page, "delete dialog")
    shot(page, "04-delete-dialog-stuck")
    dialog.locator("#confirm-delete").click()
    page.wait_for_selector("#delete-result")
    assert "1 session deleted" in page.inner_text("#delete-result")
    axe_check(page, "delete result")
    shot(page, "05-delete-result")

    # Start over: the agent (worker token, API) registers its file again (idempotent) and
    # starts a time sync, which the stuck session no longer blocks.
    agent = {"Authorization": f"Bearer {server.tokens['worker']}"}
    product, file_id, _ = ACCOUNTLINK
    registered = httpx.post(
        f"{server.url}/v1/registrations",
        json={"product": product, "file_id": file_id},
        headers=agent,
    )
    assert registered.status_code == 200 and registered.json()["id"] == str(s.accountlink)
    response = httpx.post(
        f"{server.url}/v1/registrations/{s.accountlink}/sessions",
        json={"sync_type": "time", "worker": "ACME-PC01"},
        headers=agent,
    )
    assert response.status_code == 201, response.text
    assert server.services.read_models.wait_for(response.json()["position"], 10)
    server.clock.hours = 0  # real time again: the new session is fresh, not stuck
    page.click("#back-to-history")
    page.wait_for_selector("#sessions")
    assert page.locator(f"tr[data-session='{s.stuck}']").count() == 0
    page.click("#show-deleted")
    deleted = page.locator(f"tr[data-session='{s.stuck}']")
    assert "row-deleted" in (deleted.get_attribute("class") or "")
    notes = page.locator("tr.row-deleted-note").first.inner_text()
    assert "sam.support" in notes and "Stuck time session" in notes
    new_id = response.json()["id"]
    assert page.locator(f"tr[data-session='{new_id}'] .status-in_progress").is_visible()
    assert page.locator(f"tr[data-session='{new_id}'] .badge-stuck").count() == 0
    shot(page, "06-history-with-deleted")


def test_override_deletion_then_undo_from_audit(page: Any, server: Server) -> None:
    s = server.seeded
    sign_in(page, server, "support")
    page.goto(f"{server.url}/console/registrations/{s.accountlink}")
    page.locator(f"tr[data-session='{s.completed}'] input[type=checkbox]").check()
    page.click("#delete-selected")
    dialog = page.locator("dialog#confirm-dialog")
    dialog.wait_for(state="visible")
    text = dialog.inner_text()
    assert "Not safe to delete" in text
    assert "it has synced records" in text and "not in progress" in text
    assert "4 records will be unsynced" in text
    dialog.locator("#reason").fill("Customer asked to resend these time entries")
    dialog.locator("#override").check()
    dialog.locator("#ticket").fill("SUP-4711")
    axe_check(page, "override dialog")
    shot(page, "07-delete-dialog-override")
    dialog.locator("#confirm-delete").click()
    page.wait_for_selector("#delete-result")
    result = page.inner_text("#delete-result")
    assert "4 records unsynced" in result and "SUP-4711" in result

    page.click("nav >> text=Audit log")
    entry = page.locator("#audit tbody tr").first
    assert entry.get_attribute("data-type") == "session_deleted"
    assert "SUP-4711" in entry.inner_text() and "sam.support" in entry.inner_text()
    shot(page, "08-audit-before-undo")
    entry.locator("input[name=reason]").fill("Deleted the wrong session by mistake")
    entry.locator("button", has_text="Undo").click()
    page.wait_for_selector(".flash-ok")
    assert "back in the history" in page.inner_text(".flash-ok")
    top = page.locator("#audit tbody tr").first
    assert top.get_attribute("data-type") == "deletion_undone"
    assert "4 restored" in top.inner_text()
    axe_check(page, "audit")
    shot(page, "09-audit-after-undo")

    page.goto(f"{server.url}/console/registrations/{s.accountlink}")
    row = page.locator(f"tr[data-session='{s.completed}']")
    assert "row-deleted" not in (row.get_attribute("class") or "")
    assert "Restored by" in page.inner_text("#sessions")


def test_auditor_sees_everything_and_no_destructive_control(page: Any, server: Server) -> None:
    s = server.seeded
    # Make one audit entry exist, so the audit page has rows an auditor could try to undo.
    from domain.values import Context

    done = server.services.ledger.delete_session(
        Context.system("sam.support"), s.accountlink, s.stuck, reason="stuck"
    )
    assert server.services.read_models.wait_for(done.position, 10)
    sign_in(page, server, "auditor")
    assert "read-only" in page.inner_text("header")
    pages = {
        "10-auditor-registrations": "/console/registrations",
        "11-auditor-history": f"/console/registrations/{s.accountlink}?show_deleted=1",
        "12-auditor-session": f"/console/registrations/{s.accountlink}/sessions/{s.completed}",
        "13-auditor-worker": f"/console/registrations/{s.oneclick}/worker",
        "14-auditor-audit": "/console/audit",
    }
    for name, path in pages.items():
        page.goto(server.url + path)
        assert page.locator("main h1").count() == 1
        assert page.locator("main input[type=checkbox]").count() == 0
        buttons = {b.strip() for b in page.locator("main button").all_inner_texts()}
        assert buttons <= {"Filter"}, f"{path}: {buttons}"
        assert page.locator("main form[method=post]").count() == 0
        axe_check(page, name)
        shot(page, name)
    assert "sam.support" in page.inner_text("#audit")
    # The server refuses the auditor even when the form is forged.
    response = page.request.post(
        f"{server.url}/console/audit/{done.position}/undo", form={"reason": "x", "csrf": "x"}
    )
    assert response.status == 403
    response = page.request.get(
        f"{server.url}/console/registrations/{s.accountlink}/delete?sid={s.completed}"
    )
    assert response.status == 403 and "Not allowed" in response.text()


def test_full_synchronisation_asks_with_the_oneclick_wording(page: Any, server: Server) -> None:
    s = server.seeded
    sign_in(page, server, "support")
    page.goto(f"{server.url}/console/registrations/{s.oneclick}/worker")
    assert "HMRC credentials rejected" in page.inner_text("main")
    page.click("#full-sync")
    dialog = page.locator("dialog#confirm-dialog")
    dialog.wait_for(state="visible")
    assert FULL_SYNC_WORDING in dialog.inner_text()
    axe_check(page, "full sync dialog")
    shot(page, "15-full-sync-dialog")
    dialog.locator("#confirm-full-sync").click()
    page.wait_for_selector(".flash-ok")
    page.click("#run-sync")
    page.wait_for_selector(".flash-ok")
    kinds = page.locator("#sync-requests tbody tr").all_inner_texts()
    assert any("Full Synchronisation" in k for k in kinds)
    assert any("periodic" in k for k in kinds)
    axe_check(page, "worker status")
    shot(page, "16-worker-status-requests")


def test_without_javascript_confirmation_is_a_page(browser: Any, server: Server) -> None:
    s = server.seeded
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1360, "height": 900}
    )
    pg = context.new_page()
    try:
        sign_in(pg, server, "support")
        pg.goto(f"{server.url}/console/registrations/{s.accountlink}")
        pg.locator(f"tr[data-session='{s.stuck}'] input[type=checkbox]").check()
        pg.click("#delete-selected")
        pg.wait_for_selector("#delete-confirm")
        assert "/delete?sid=" in pg.url
        pg.fill("#reason", "Stuck session (no JavaScript)")
        shot(pg, "17-nojs-delete-confirm-page")
        pg.click("#confirm-delete")
        pg.wait_for_selector("#delete-result")
        assert "1 session deleted" in pg.inner_text("#delete-result")
    finally:
        context.close()
