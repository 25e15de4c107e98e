"""Operations in the console, in Chromium (issue 14, second half): the auditors' export and
the latest signed checkpoint, sync requests (cancel, one pending per kind), registration
settings, webhooks with their delivery log, and four-eyes approvals. axe-core on each page.

One server for the module (`shared_server`): each test that changes something acts on what
it creates itself. Screenshots go to test-output/console/ (names 40-…).
"""

from __future__ import annotations

import json
import time
from typing import Any
from uuid import UUID, uuid4

from browser_kit import Server, axe_check, open_page, phone_pages, shot, sign_in

from domain.values import Context
from replay.export import read_export_checkpoint, verify_export
from replay.keys import known_verifiers
from replay.note import peek_checkpoint
from tests.lifecycle.kit import receiver


def url(server: Server, path: str) -> str:
    return server.url + path


def _checkpoint_covers_the_log(page: Any, server: Server, timeout_s: float = 30.0) -> None:
    """Wait until the latest checkpoint covers every event so far. Earlier tests of the module
    write on the shared server; until the tree follower has signed their events, a newer
    checkpoint could appear between reading the page and asking the API."""
    deadline = time.monotonic() + timeout_s
    while True:
        views = page.request.get(url(server, "/v1/health")).json()["projections"].values()
        head = max(v["position"] + v["lag"] for v in views)
        checkpoint = page.request.get(url(server, "/v1/log/checkpoint"))
        if checkpoint.ok and checkpoint.json()["tree_size"] >= head:
            return
        assert time.monotonic() < deadline, "no checkpoint covered the log in time"
        time.sleep(0.1)


def test_verify_page_shows_the_latest_signed_checkpoint_and_exports_the_log(
    page: Any, shared_server: Server
) -> None:
    server = shared_server
    _checkpoint_covers_the_log(page, server)
    sign_in(page, server, "auditor")
    page.goto(url(server, "/console/audit"))
    page.click("#verify-link")
    card = page.locator("#latest-checkpoint")
    card.wait_for()
    size = int(page.inner_text("#checkpoint-size").split()[0].replace(",", ""))
    root = page.inner_text("#checkpoint-root").strip()
    key_id = page.inner_text("#checkpoint-key").strip()
    assert size >= 1 and len(root) == 64 and len(key_id) == 8
    # What the page shows is what the API serves to anyone holding the public key.
    api = page.request.get(url(server, "/v1/log/checkpoint")).json()
    assert api["root_hash"] == root and api["key_id"] == key_id
    assert api["tree_size"] == size
    axe_check(page, "verify page with checkpoint")
    shot(page, "40-verify-latest-checkpoint")
    with page.expect_download() as download_info:
        page.click("#export-events")
    download = download_info.value
    assert download.suggested_filename.endswith(".jsonl")
    path = download.path()
    lines = open(path, encoding="utf-8").read().splitlines()
    rows = [json.loads(line) for line in lines]
    assert "checkpoint" in rows[-1] and len(rows) - 1 == rows[-1]["tree_size"] >= size
    # The file re-verifies on its own, signature included (rule: verification never trusts
    # the database the events live in).
    keys = known_verifiers(server.services.tree.config.signing_key)
    report = verify_export(path, verifiers=keys)
    assert report.ok, report.problems
    note = read_export_checkpoint(path)
    assert note is not None and peek_checkpoint(note).tree_size == rows[-1]["tree_size"]


def _stuck_with_records(server: Server, name: str) -> tuple[str, str]:
    """A registration requiring four eyes whose stuck session synced records: not safe to
    delete, so only an override deletes it (and then a second support token must approve)."""
    ledger = server.services.ledger
    agent = Context.system(f"{name}-agent")
    rid = ledger.register(
        agent, product="accountlink-sage", file_id=rf"E:\Sage\{name}.sai", name=name
    ).registration_id
    sid = ledger.start_session(
        agent, rid, sync_type="time", session_id=str(uuid4()), worker="SAGE-01"
    ).session_id
    ledger.record_batch(agent, rid, sid, [("Timesheet", f"TS-{k}", "x") for k in range(12)])
    ledger.update_settings(Context.system("kim.support"), rid, {"approvals_required": True})
    assert server.services.read_models.wait_for(ledger.current_position(), 10)
    return str(rid), sid


def test_four_eyes_override_deletion_requested_refused_to_self_approved_by_another(
    browser: Any, shared_server: Server
) -> None:
    server = shared_server
    rid, sid = _stuck_with_records(server, "Bramble Farm Ltd")
    with open_page(browser) as sam:
        sign_in(sam, server, "support")
        sam.goto(url(server, f"/console/registrations/{rid}/delete?sid={sid}"))
        assert sam.locator("#four-eyes-note").is_visible()
        sam.fill("#reason", "Agent crashed mid-sync; Support said remove it")
        sam.check("#override")
        sam.fill("#ticket", "SUP-4411")
        sam.click("#confirm-delete")
        sam.wait_for_selector("#pending-approval")
        assert "Nothing is deleted yet" in sam.inner_text("#delete-result")
        axe_check(sam, "deletion waiting for approval")
        shot(sam, "41-four-eyes-deletion-requested")
        sam.click("#delete-result a.pending-link")
        sam.wait_for_selector(".own-request")
        aid = sam.url.rsplit("/", 1)[1]
        assert sam.locator("button.approve").count() == 0
        assert "Bramble Farm Ltd" in sam.inner_text("main")
        axe_check(sam, "requester's view of the pending approval")
        shot(sam, "42-four-eyes-requester-view")
        # The session history says what waits for it.
        sam.goto(url(server, f"/console/registrations/{rid}"))
        assert "Waiting for approval" in sam.inner_text("#pending-approvals")
        # An approve form from an older page (another tab) is refused in words.
        csrf = sam.locator("input[name=csrf]").first.input_value()
        sam.evaluate(
            """([action, csrf]) => { const f = document.createElement('form');
                f.method = 'post'; f.action = action;
                const i = document.createElement('input'); i.type = 'hidden'; i.name = 'csrf';
                i.value = csrf; f.appendChild(i); document.body.appendChild(f); f.submit(); }""",
            [f"/console/approvals/{aid}/approve", csrf],
        )
        sam.wait_for_selector(".flash-error")
        assert "You asked for this yourself" in sam.inner_text(".flash-error")
        shot(sam, "43-four-eyes-own-approval-refused")
        assert server.services.read_models.get_approval(aid)["status"] == "pending"
    with open_page(browser) as kim:
        sign_in(kim, server, "support2")
        assert kim.locator("#nav-approvals .nav-count").count() == 1
        kim.click("#nav-approvals")
        card = kim.locator(f"article[data-approval='{aid}']")
        assert "would be unsynced" in card.inner_text()
        axe_check(kim, "pending approvals")
        shot(kim, "44-four-eyes-pending-approvals")
        card.locator("input[name=reason]").fill("Confirmed with the customer")
        card.locator("button.approve").click()
        kim.wait_for_selector("#decision-result")
        words = kim.inner_text("#decision-result")
        assert "Approved and carried out" in words and "12 records unsynced" in words
        axe_check(kim, "approval carried out")
        shot(kim, "45-four-eyes-approved-with-undo")
    session = server.services.read_models.get_session(UUID(rid), sid)
    assert session is not None and session["deleted"]


def test_registration_settings_page_changes_rule_18_settings(
    page: Any, shared_server: Server
) -> None:
    server = shared_server
    ledger = server.services.ledger
    rid = ledger.register(
        Context.system("quarry-agent"),
        product="accountlink-quickbooks",
        file_id=r"C:\Books\quarry.qbw",
        name="Quarry Lane Bakery",
    ).registration_id
    assert server.services.read_models.wait_for(ledger.current_position(), 10)
    sign_in(page, server, "support")
    page.goto(url(server, f"/console/registrations/{rid}"))
    page.click("#settings-tab")
    page.wait_for_selector("#settings-form")
    axe_check(page, "settings")
    page.check("#auto_remove")
    page.fill("#auto_remove_stuck_after_minutes", "60")
    page.click("#save-settings")
    page.wait_for_selector("#settings-error")
    assert "must be at least" in page.inner_text("#settings-error")
    assert page.locator("#auto_remove_stuck_after_minutes").get_attribute("aria-invalid") == "true"
    axe_check(page, "settings refused")
    shot(page, "46-settings-refused-in-words")
    page.fill("#auto_remove_stuck_after_minutes", "240")
    page.check("#approvals_required")
    page.click("#save-settings")
    page.wait_for_selector(".flash-ok")
    flash = page.inner_text(".flash-ok")
    assert "four-eyes approvals required" in flash and "after 240 min" in flash
    assert page.locator("#approvals_required").is_checked()
    assert page.input_value("#auto_remove_stuck_after_minutes") == "240"
    shot(page, "47-settings-saved")
    reg = server.services.read_models.get_registration(rid)
    assert reg is not None and reg["approvals_required"] is True
    assert reg["auto_remove_stuck_after_minutes"] == 240


def test_cancel_a_pending_sync_request_beside_it(page: Any, shared_server: Server) -> None:
    server = shared_server
    oid = server.seeded.oneclick
    sign_in(page, server, "support")
    page.goto(url(server, f"/console/registrations/{oid}/worker"))
    page.click("#run-sync")
    page.wait_for_selector(".flash-ok")
    pending = page.locator("#worker-status [data-pending-kind=periodic]")
    assert "Run Synchronisation pending" in pending.inner_text()
    assert page.locator("#run-sync").count() == 0
    pending.locator("summary").click()
    axe_check(page, "pending request with its cancel form")
    shot(page, "48-sync-request-pending-cancel")
    pending.locator("input[name=reason]").fill("The practice asked for tonight instead")
    pending.locator("button[type=submit]").click()
    page.wait_for_selector(".flash-ok")
    assert "is cancelled" in page.inner_text(".flash-ok")
    row = page.locator("#sync-requests tbody tr", has_text="tonight instead")
    assert "cancelled" in row.inner_text() and "sam.support" in row.inner_text()
    assert page.locator("#run-sync").is_visible()
    axe_check(page, "worker page after the cancellation")
    shot(page, "49-sync-request-cancelled")


def test_webhooks_secret_once_delivery_log_with_retries_and_delete(
    page: Any, shared_server: Server
) -> None:
    server = shared_server
    ledger = server.services.ledger
    sign_in(page, server, "support")
    with receiver() as rx:
        rx.statuses = [503]  # the first attempt fails: the log shows it and the next retry
        page.click("#nav-webhooks")
        page.fill("#webhook-url", rx.url)
        page.check("input[value='session.failed']")
        page.fill("#webhook-description", "The support team's alert channel")
        page.click("#create-webhook")
        page.wait_for_selector("#webhook-created")
        secret = page.input_value("#webhook-secret")
        assert secret.startswith("whsec_")
        axe_check(page, "webhook created")
        shot(page, "50-webhook-created-secret-once")
        page.goto(url(server, "/console/webhooks"))
        assert secret not in page.content()
        hook_id = page.locator("#webhooks tbody tr").last.get_attribute("data-webhook")
        agent = Context.system("harbour-agent")
        rid = ledger.register(
            agent, product="cch-oneclick", file_id=r"\\HARBOUR02\CCH", name="Harbour Two"
        ).registration_id
        sid = ledger.start_session(agent, rid, sync_type="periodic", worker="HARBOUR02")
        ledger.fail_session(agent, rid, sid.session_id, reason="OneClick service stopped")
        deadline = time.monotonic() + 20
        while not rx.received:
            assert time.monotonic() < deadline, "the webhook was never called"
            time.sleep(0.05)
        page.goto(url(server, f"/console/webhooks/{hook_id}"))
        row = page.locator("#deliveries tbody tr").first
        row.wait_for()
        assert "session.failed" in row.inner_text() and "HTTP 503" in row.inner_text()
        assert row.get_attribute("data-status") == "pending"  # retried with backoff
        row.locator("details summary").click()
        axe_check(page, "delivery log")
        shot(page, "51-webhook-delivery-log-retry")
    page.goto(url(server, "/console/webhooks"))
    hook_row = page.locator(f"tr[data-webhook='{hook_id}']")
    hook_row.locator("summary").click()
    hook_row.locator("button[type=submit]").click()
    page.wait_for_selector(".flash-ok")
    assert "pending deliveries are cancelled" in page.inner_text(".flash-ok")
    assert page.locator(f"tr[data-webhook='{hook_id}']").count() == 0
    page.goto(url(server, f"/console/webhooks/{hook_id}"))
    assert page.locator("#deliveries tbody tr").first.get_attribute("data-status") == "cancelled"


def test_new_pages_are_readable_on_a_390_px_screen(browser: Any, shared_server: Server) -> None:
    server = shared_server
    rid = server.seeded.oneclick
    with open_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True) as pg:
        sign_in(pg, server, "support")
        paths = {
            "52-phone-approvals": "/console/approvals?status=all",
            "53-phone-settings": f"/console/registrations/{rid}/settings",
            "54-phone-webhooks": "/console/webhooks",
            "55-phone-verify": "/console/audit/verify",
        }
        phone_pages(pg, server, paths)


def test_four_eyes_reset_requested_then_rejected_by_another_support_token(
    browser: Any, shared_server: Server
) -> None:
    server = shared_server
    rid, _ = _stuck_with_records(server, "Copper Kettle Cafe")
    receipts = server.services.read_models.count_receipts(UUID(rid))
    reg = server.services.read_models.get_registration(UUID(rid))
    assert reg is not None
    with open_page(browser) as sam:
        sign_in(sam, server, "support")
        sam.goto(url(server, f"/console/registrations/{rid}/reset"))
        assert sam.locator("#four-eyes-note").is_visible()
        assert "Ask for approval" in sam.inner_text("#confirm-reset")
        sam.fill("#reset-reason", "Customer restored last month's backup")
        sam.fill("#confirm-file-id", reg["file_id"])
        sam.click("#confirm-reset")
        sam.wait_for_selector(".own-request")
        assert "Reset requested" in sam.inner_text(".flash-info")
        assert "Would remove" in sam.inner_text("main")
        axe_check(sam, "reset waiting for approval")
        shot(sam, "56-four-eyes-reset-requested")
        aid = sam.url.rsplit("/", 1)[1]
    with open_page(browser) as kim:
        sign_in(kim, server, "support2")
        kim.goto(url(server, f"/console/approvals/{aid}"))
        kim.fill(f"#decision-reason-{aid}", "Not during the month-end run")
        kim.click(f"#decide-{aid} button.reject")
        kim.wait_for_selector("#decision-result")
        assert "nothing was changed" in kim.inner_text("#decision-result")
        assert "Not during the month-end run" in kim.inner_text("main")
        axe_check(kim, "approval rejected")
        shot(kim, "57-four-eyes-reset-rejected")
    assert server.services.read_models.count_receipts(UUID(rid)) == receipts
    assert server.services.read_models.get_approval(aid)["status"] == "rejected"
