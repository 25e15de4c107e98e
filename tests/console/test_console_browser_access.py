"""End-to-end in Chromium: support grants a second agent's worker token access to a
registration and takes it back, on the access page (rule 13). Screenshots in
test-output/console/, axe-core on each state of the page."""

from __future__ import annotations

from typing import Any

from browser_kit import Server, axe_check, shot, sign_in
from console_kit import ACCOUNTLINK

from domain.values import Context


def test_support_grants_a_second_agent_access_and_takes_it_back(page: Any, server: Server) -> None:
    product, file_id, _ = ACCOUNTLINK
    rid = server.seeded.accountlink
    server.services.ledger.register(
        Context("acme-pc01"), product=product, file_id=file_id, worker="acme-pc01"
    )
    server.services.tokens.create("acme-pc02", "worker")
    sign_in(page, server, "support")
    page.goto(f"{server.url}/console/registrations/{rid}")
    page.click("nav.tabs >> text=Access")
    page.wait_for_selector("#grants")
    assert page.locator("#grants tr[data-token='acme-pc01'] .badge").inner_text() == "holder"
    axe_check(page, "access")
    shot(page, "30-access")

    page.fill("#token-name", "acme-pc02")
    page.fill("#grant-reason", "Second QuickBooks PC, ticket SUP-12")
    page.click("#grant-submit")
    page.wait_for_selector("#grants tr[data-token='acme-pc02']")
    assert "acme-pc02 may now reach this registration." in page.inner_text(".flash")
    assert "sam.support" in page.inner_text("#grants tr[data-token='acme-pc02']")
    axe_check(page, "access granted")
    shot(page, "31-access-granted")

    page.fill("#token-name", "nobody")
    page.click("#grant-submit")
    page.wait_for_selector("#grant-error")
    assert "There is no token named 'nobody'" in page.inner_text("#grant-error")
    axe_check(page, "access refused")

    page.goto(f"{server.url}/console/registrations/{rid}/access")
    row = page.locator("#grants tr[data-token='acme-pc02']")
    row.locator("input[name=reason]").fill("PC retired")
    row.locator("button[type=submit]").click()
    page.wait_for_selector("#no-grants")
    assert "acme-pc02 no longer reaches this registration." in page.inner_text(".flash")
    shot(page, "32-access-taken-back")
    assert server.services.ledger.access(rid).grants == []
