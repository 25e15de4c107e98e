"""A day of support work in Chromium (issue 14): find, page, act where you look, reset,
see the trend, read it on a phone, audit and export, with axe-core on every page.

One server for the module (`shared_server`): each test that changes something acts on
registrations it creates itself. Screenshots go to test-output/console/ (names 20-…).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

import pytest
from browser_kit import Server, axe_check, open_page, phone_pages, shot, sign_in
from console_kit import NS

from domain.ledger import Ledger
from domain.values import Context

ONECLICK_TYPES = (
    "Employee List",
    "Client List",
    "Team Security",
    "Business List",
    "HMRC Credentials List",
    "AP Period Entity Type",
    "AP Nominals",
    "AP Transactions",
)


@contextmanager
def event_time(start: datetime) -> Iterator[list[datetime]]:
    """Events recorded inside get the time in the box (a history spread over days)."""
    import eventsourcing.domain as es

    real = es.datetime_now_with_tzinfo
    box = [start]
    es.datetime_now_with_tzinfo = lambda: box[0]
    try:
        yield box
    finally:
        es.datetime_now_with_tzinfo = real


def northwind(ledger: Ledger, tag: str) -> UUID:
    """An Accountlink-style registration with 64 syncs over two days: records and duration
    vary, one early failure, the last three failed, then a session that got stuck."""
    agent = Context.system("northwind-agent")
    start = datetime.now(UTC) - timedelta(hours=40)
    with event_time(start) as now:
        rid = ledger.register(
            agent,
            product="accountlink-quickbooks",
            file_id=rf"D:\Finance\Northwind Traders Ltd\Company Files\northwind-{tag}.qbw",
            name=f"Northwind Traders ({tag})",
        ).registration_id
        for n in range(64):
            now[0] = start + timedelta(minutes=30 * n)
            sid = ledger.start_session(
                agent,
                rid,
                sync_type="time",
                session_id=str(uuid5(NS, f"{tag}-{n}")),
                worker="NW-SRV02",
            ).session_id
            count = 5 + (n * 37) % 90
            now[0] += timedelta(minutes=1 + (n * 7) % 11)
            records = [("Timesheet", f"TS-{n:03d}-{k:03d}", f"d{k}") for k in range(count)]
            ledger.record_batch(agent, rid, sid, records)
            if n == 20 or n >= 61:
                ledger.record_error(
                    agent,
                    rid,
                    sid,
                    message="QuickBooks refused the connection (error 6000)",
                    entity_type="Timesheet",
                    key=f"TS-{n:03d}-000",
                )
                ledger.fail_session(agent, rid, sid, reason="QuickBooks company file locked")
            else:
                ledger.complete_session(agent, rid, sid)
        now[0] = datetime.now(UTC) - timedelta(minutes=30)
        ledger.start_session(
            agent,
            rid,
            sync_type="time",
            session_id=str(uuid5(NS, f"{tag}-stuck")),
            worker="NW-SRV02",
        )
    return rid


def harbour(ledger: Ledger) -> tuple[UUID, str]:
    """A OneClick-style full sync of the article's eight entity types, with 60 errors."""
    worker = Context.system("harbour-syncworker")
    start = datetime.now(UTC) - timedelta(hours=5)
    with event_time(start) as now:
        rid = ledger.register(
            worker,
            product="cch-oneclick",
            file_id=r"\\HARBOUR01\CCH\Central",
            name="Harbour & Co (CCH Central)",
        ).registration_id
        sid = ledger.start_session(
            worker,
            rid,
            sync_type="full",
            session_id=str(uuid5(NS, "harbour-full")),
            worker="HARBOUR01",
            entity_types=list(ONECLICK_TYPES),
        ).session_id
        for i, entity in enumerate(ONECLICK_TYPES):
            now[0] += timedelta(minutes=3)
            rows = [(entity, f"{entity[:3].lower()}-{k}", "x") for k in range(4 + i * 9)]
            ledger.record_batch(worker, rid, sid, rows)
        for k in range(60):
            ledger.record_error(
                worker,
                rid,
                sid,
                message=f"HMRC credentials rejected for client {k}",
                entity_type="HMRC Credentials List",
                key=f"hmrc-{k}",
            )
        now[0] += timedelta(minutes=4)
        ledger.complete_session(worker, rid, sid)
    return rid, sid


@pytest.fixture(scope="module")
def day(shared_server: Server) -> dict[str, Any]:
    ledger = shared_server.services.ledger
    made = {"northwind": northwind(ledger, "a"), "harbour": harbour(ledger)}
    assert shared_server.services.read_models.wait_for(ledger.current_position(), 20)
    return made


def url(server: Server, path: str) -> str:
    return server.url + path


def test_find_a_registration_by_text_and_by_stuck(
    page: Any, shared_server: Server, day: dict[str, Any]
) -> None:
    server = shared_server
    sign_in(page, server, "support")
    axe_check(page, "registrations")
    page.fill("#q", "northwind")
    page.click("#apply-filters")
    page.wait_for_url(re.compile(r".*q=northwind.*"))
    rows = page.locator("#registrations tbody tr")
    assert rows.count() == 1 and "Northwind Traders (a)" in rows.first.inner_text()
    assert "1–1 of 1 registration" in page.inner_text(".pager-count >> nth=0")
    shot(page, "20-search-registrations")
    page.fill("#q", "")
    page.select_option("#status", "stuck")
    page.click("#apply-filters")
    page.wait_for_url(re.compile(r".*status=stuck.*"))
    names = page.locator("#registrations tbody tr .card-title a").all_inner_texts()
    assert set(names) == {"Acme Ltd (QuickBooks)", "Northwind Traders (a)"}
    page.select_option("#status", "failed")
    page.click("#apply-filters")
    page.wait_for_url(re.compile(r".*status=failed.*"))
    names = page.locator("#registrations tbody tr .card-title a").all_inner_texts()
    assert "Northwind Traders (a)" in names and "Acme Ltd (QuickBooks)" not in names
    axe_check(page, "registrations filtered")
    shot(page, "21-registrations-failed-filter")
    page.fill("#q", "no such thing")
    page.click("#apply-filters")
    page.wait_for_selector("#no-match")


def test_session_history_pages_filters_and_trend(
    page: Any, shared_server: Server, day: dict[str, Any]
) -> None:
    server = shared_server
    rid = day["northwind"]
    sign_in(page, server, "auditor")
    page.goto(url(server, f"/console/registrations/{rid}"))
    assert "1–50 of 65 sessions" in page.inner_text(".pager-count >> nth=0")
    trend = page.locator("#trend svg.trend")
    assert trend.locator("rect.bar").count() == 30
    assert trend.locator("rect.bar-failed").count() == 3
    assert trend.locator("path.fail-mark").count() == 3
    assert "failing since" in page.inner_text("#trend-words")
    axe_check(page, "session history")
    shot(page, "22-session-history-trend")
    page.click(".pager >> nth=0 >> a[rel=next]")
    page.wait_for_url(re.compile(r".*page=2.*"))
    assert "51–65 of 65 sessions" in page.inner_text(".pager-count >> nth=0")
    page.select_option("#status", "stuck")
    page.click("#apply-filters")
    page.wait_for_url(re.compile(r".*status=stuck.*"))
    assert page.locator("#sessions tbody tr[data-session]").count() == 1
    assert (
        "page=" not in page.url
        or "page=1" in page.url
        or "1–1 of 1" in page.inner_text(".pager-count >> nth=0")
    )
    page.select_option("#status", "failed")
    page.click("#apply-filters")
    page.wait_for_url(re.compile(r".*status=failed.*"))
    assert page.locator("#sessions tbody tr[data-session]").count() == 4
    axe_check(page, "session history filtered")
    shot(page, "23-sessions-failed-filter")


def test_delete_beside_the_stuck_row_by_keyboard_then_undo_beside_the_result(
    page: Any, shared_server: Server, day: dict[str, Any]
) -> None:
    server = shared_server
    rid = northwind(server.services.ledger, "b")
    assert server.services.read_models.wait_for(server.services.ledger.current_position(), 10)
    stuck = str(uuid5(NS, "b-stuck"))
    sign_in(page, server, "support")
    page.goto(url(server, f"/console/registrations/{rid}"))
    note = page.locator(f"tr[data-stuck-for='{stuck}']")
    assert "safe to delete" in note.inner_text()
    # The Delete button is on the stuck row itself, not 3,000 px below.
    row_box = page.locator(f"tr[data-session='{stuck}']").bounding_box()
    button = note.locator("a.button.danger")
    assert abs(button.bounding_box()["y"] - row_box["y"]) < 200
    shot(page, "24-stuck-row-with-dry-run")
    # Keyboard: focus it, Enter opens the dialog, Escape closes it and focus comes back.
    button.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog#confirm-dialog")
    dialog.wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "reason"
    axe_check(page, "delete dialog")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.id") == button.get_attribute("id")
    page.keyboard.press("Enter")
    dialog.wait_for(state="visible")
    page.keyboard.type("Stuck after the company file was locked")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "confirm-delete"
    shot(page, "25-delete-dialog-keyboard")
    page.keyboard.press("Enter")
    page.wait_for_selector("#delete-result")
    result = page.locator("#delete-result")
    assert "1 session deleted" in result.inner_text()
    axe_check(page, "delete result")
    shot(page, "26-delete-result-with-undo")
    form = result.locator(f"form.undo-form[data-session='{stuck}']")
    form.locator("input[name=reason]").fill("Wrong registration")
    form.locator("button").click()
    page.wait_for_selector(".flash-ok")
    flash = page.inner_text(".flash-ok")
    assert "is back in the history" in flash and "Northwind Traders (b)" in flash
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}", flash), flash  # words, not ids
    assert "#" not in flash
    shot(page, "27-undo-flash-in-words")


def test_worker_panel_says_stuck_and_shows_request_buttons_only_where_they_apply(
    page: Any, shared_server: Server, day: dict[str, Any]
) -> None:
    server = shared_server
    s = server.seeded
    sign_in(page, server, "support")
    page.goto(url(server, f"/console/registrations/{s.accountlink}/worker"))
    panel = page.locator("#worker-status")
    text = panel.inner_text()
    assert "in progress" not in text.lower().replace("in progress (", "")
    assert "Synchronisation is currently in progress" not in text
    assert "stuck" in page.inner_text("#worker-message")
    assert panel.locator("#requests-note").is_visible()
    # Accountlink's connector takes no sync requests: no OneClick buttons, not even hidden.
    assert panel.locator("#run-sync, #full-sync").count() == 0
    assert "reset" in panel.locator("#requests-note").inner_text()
    axe_check(page, "worker panel, Accountlink")
    shot(page, "28-worker-accountlink-stuck-no-buttons")
    page.goto(url(server, f"/console/registrations/{s.oneclick}/worker"))
    page.click("#run-sync")
    page.wait_for_selector(".flash-ok")
    assert "request " not in page.inner_text(".flash-ok")  # no request id in the message
    # One pending request per kind, shown as such: the pending one takes the button's place.
    panel = page.locator("#worker-status")
    assert panel.locator("[data-pending-kind=periodic]").is_visible()
    assert panel.locator("#run-sync").count() == 0 and panel.locator("#full-sync").is_visible()
    card = panel.bounding_box()
    for badge in panel.locator(".badge").all():
        box = badge.bounding_box()
        assert box["x"] >= card["x"] and box["x"] + box["width"] <= card["x"] + card["width"]
    axe_check(page, "worker panel, OneClick")
    shot(page, "29-worker-oneclick-pending")


def test_reset_with_the_typed_back_file_id_and_its_undo(
    page: Any, shared_server: Server, day: dict[str, Any]
) -> None:
    server = shared_server
    rid = northwind(server.services.ledger, "c")
    assert server.services.read_models.wait_for(server.services.ledger.current_position(), 10)
    reg = server.services.read_models.get_registration(rid)
    receipts = server.services.read_models.count_receipts(rid)
    sign_in(page, server, "support")
    page.goto(url(server, f"/console/registrations/{rid}"))
    page.click("#reset-link")
    page.wait_for_selector("#reset-preview")
    preview = page.inner_text("#reset-preview")
    assert "65 sessions will leave" in preview and f"{receipts:,} receipts" in preview
    axe_check(page, "reset confirmation")
    page.fill("#reset-reason", "Customer restored last week's backup")
    page.fill("#confirm-file-id", "northwind-c.qbw")
    page.click("#confirm-reset")
    page.wait_for_selector("#reset-error")
    assert server.services.read_models.count_receipts(rid) == receipts  # nothing changed
    page.fill("#confirm-file-id", reg["file_id"])
    shot(page, "30-reset-typed-back")
    page.click("#confirm-reset")
    page.wait_for_selector("#reset-result")
    assert f"{receipts:,} receipts unsynced" in page.inner_text("#reset-result")
    axe_check(page, "reset result")
    shot(page, "31-reset-result")
    page.fill("#undo-reset-reason", "Reset the wrong file")
    page.click("#undo-reset button")
    page.wait_for_selector(".flash-ok")
    assert "reset of Northwind Traders (c) is undone" in page.inner_text(".flash-ok")
    assert server.services.read_models.count_receipts(rid) == receipts


def test_session_breakdown_by_entity_type_and_paged_errors(
    page: Any, shared_server: Server, day: dict[str, Any]
) -> None:
    server = shared_server
    rid, sid = day["harbour"]
    sign_in(page, server, "auditor")
    page.goto(url(server, f"/console/registrations/{rid}/sessions/{sid}"))
    rows = page.locator("#breakdown tbody tr").all_inner_texts()
    assert len(rows) == 8 and any("AP Transactions" in r and "67" in r for r in rows)
    assert "28 min" in page.inner_text("#duration")
    assert page.locator("#errors tbody tr").count() == 25
    assert "1–25 of 60 errors" in page.inner_text("#errors .pager-count")
    axe_check(page, "session detail")
    shot(page, "32-session-breakdown-errors")
    page.click("#errors a[rel=next]")
    page.wait_for_url(re.compile(r".*errors_page=2.*"))
    assert "26–50 of 60 errors" in page.inner_text("#errors .pager-count")
    assert "client 25" in page.inner_text("#errors tbody tr >> nth=0")


def test_local_time_beside_utc(page: Any, shared_server: Server, day: dict[str, Any]) -> None:
    server = shared_server
    sign_in(page, server, "auditor")
    first = page.locator("#registrations time[data-local]").first
    assert first.inner_text().endswith("UTC")
    local = page.locator("#registrations .local-time").first
    assert re.search(r"CES?T|GMT\+[12]", local.inner_text()), local.inner_text()
    assert "Europe/Berlin" in (local.get_attribute("title") or "")


def test_readable_on_a_390_px_screen(
    browser: Any, shared_server: Server, day: dict[str, Any]
) -> None:
    server = shared_server
    rid = day["northwind"]
    with open_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True) as pg:
        sign_in(pg, server, "support")
        paths = {
            "33-phone-registrations": "/console/registrations",
            "34-phone-session-history": f"/console/registrations/{rid}",
            "35-phone-worker": f"/console/registrations/{rid}/worker",
            "36-phone-audit": "/console/audit",
        }
        phone_pages(pg, server, paths)
        pg.goto(url(server, "/console/registrations"))
        # Cards, not a table: one card per registration, the file id on readable lines.
        card = pg.locator("#registrations tbody tr").first
        assert pg.evaluate("el => getComputedStyle(el).display", card.element_handle()) == "block"
        fid = pg.locator("#registrations td.fileid").first
        box = fid.bounding_box()
        assert box["width"] > 150, box
        lines = box["height"] / float(
            pg.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)", fid.element_handle())
        )
        assert lines < 4, lines


def test_unknown_console_url_is_a_console_page(
    page: Any, shared_server: Server, day: dict[str, Any]
) -> None:
    server = shared_server
    sign_in(page, server, "support")
    response = page.goto(url(server, "/console/registrationz/whatever"))
    assert response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "There is no such console page" in page.inner_text("main")
    assert page.locator("header nav a", has_text="Audit log").count() == 1
    axe_check(page, "404")
    shot(page, "37-console-404")


def test_auditor_filters_exports_and_verifies(
    page: Any, shared_server: Server, day: dict[str, Any]
) -> None:
    server = shared_server
    ledger = server.services.ledger
    rid = northwind(ledger, "d")
    deleted = ledger.delete_session(
        Context.system("kim.support"), rid, str(uuid5(NS, "d-stuck")), reason="=HYPERLINK(stuck)"
    )
    ledger.undo(Context.system("sam.support"), deleted.position, reason="not that one")
    assert server.services.read_models.wait_for(ledger.current_position(), 10)
    sign_in(page, server, "auditor")
    page.goto(url(server, "/console/audit"))
    page.select_option("#actor", "kim.support")
    page.fill("#registration", "Northwind Traders (d)")
    page.click("#apply-filters")
    page.wait_for_url(re.compile(r".*actor=kim.support.*"))
    rows = page.locator("#audit tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-type") == "session_deleted"
    axe_check(page, "audit filtered")
    shot(page, "38-audit-filtered")
    with page.expect_download() as download_info:
        page.click("#export-csv")
    body = open(download_info.value.path(), encoding="utf-8").read()
    table = list(csv.DictReader(io.StringIO(body)))
    assert [r["type"] for r in table] == ["session_deleted"]
    assert table[0]["actor"] == "kim.support" and table[0]["registration"] == (
        "Northwind Traders (d)"
    )
    assert table[0]["reason"] == "'=HYPERLINK(stuck)"  # never a formula in a spreadsheet
    page.click("#verify-link")
    page.click("#run-verify")
    page.wait_for_selector("#verify-result")
    assert "The log is intact" in page.inner_text("#verify-result")
    axe_check(page, "verify")
    shot(page, "39-verify-intact")
