"""Issue 11, finding 4 in the console: a made-up cursor or position is a refusal page (4xx),
never a 500, and records nothing."""

from __future__ import annotations

import base64

from console_kit import Console, csrf_of


def test_a_made_up_records_cursor_is_a_refusal_page(console: Console) -> None:
    console.sign_in("auditor")
    s = console.seeded
    page = f"/console/registrations/{s.accountlink}/sessions/{s.completed}"
    assert console.client.get(page).status_code == 200
    for raw in (
        b"[1e400]",
        b"[[1],[2]]",
        b"[{}, {}]",
        b"[true, false]",
        b"[99999999999999999999999]",
    ):
        cursor = base64.urlsafe_b64encode(raw).decode()
        r = console.client.get(page, params={"cursor": cursor})
        assert r.status_code == 422 and "cursor is not valid" in r.text, raw


def test_undo_of_a_position_out_of_range_is_refused(console: Console) -> None:
    console.sign_in("support")
    csrf = csrf_of(console.client.get("/console/audit").text)
    before = console.services.ledger.current_position()
    for position in (2**63, 2**70, 0):
        r = console.client.post(
            f"/console/audit/{position}/undo",
            data={"reason": "mistake", "csrf": csrf},
            follow_redirects=False,
        )
        assert 400 <= r.status_code < 500, (position, r.status_code)
    assert console.services.ledger.current_position() == before


def test_the_verify_page_says_intact_only_after_comparing_with_a_signed_checkpoint(
    console: Console,
) -> None:
    """Issue 11: with no signed checkpoint to compare with (none yet, or the stored ones
    deleted), the page says "Not verified" and what was checked, never "intact"."""
    from domain.infra.eventlog import forge

    console.sign_in("auditor")
    tree = console.services.tree
    tree.step(force=True)
    page = console.client.get("/console/audit/verify", params={"run": "1"}).text
    assert "The log is intact" in page and "match the signed checkpoint" in page
    with forge(console.services.database) as (conn, _, _, _):
        conn.execute("DELETE FROM log_checkpoints")
    page = console.client.get("/console/audit/verify", params={"run": "1"}).text
    assert "Not verified" in page and "The log is intact" not in page
    assert "NOT VERIFIED" in page


def test_a_nul_in_a_filter_finds_nothing_instead_of_failing(console: Console) -> None:
    """Nothing stored holds NUL (rule 12) and PostgreSQL refuses it even as a parameter:
    the search and the audit filters match nothing rather than answer a 500."""
    console.sign_in("auditor")
    for page, params in (
        ("/console/registrations", {"q": "acme\x00"}),
        ("/console/audit", {"actor": "sam\x00"}),
        ("/console/audit", {"registration": "a\x00"}),
    ):
        r = console.client.get(page, params=params)
        assert r.status_code == 200, (page, params, r.status_code)
