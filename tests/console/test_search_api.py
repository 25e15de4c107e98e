"""The API's search and filter parameters the console's lists stand on (issue 14):
registrations by text and status, sessions by status (including stuck), the audit log by
actor, action and time. Both backends; the seeded history of console_kit."""

from __future__ import annotations

from typing import Any

from console_kit import Console

from domain.values import Context


def _get(c: Console, path: str, role: str = "support", **params: Any) -> Any:
    response = c.client.get(
        path, params=params, headers={"Authorization": f"Bearer {c.tokens[role]}"}
    )
    return response


def _names(body: dict[str, Any]) -> list[str]:
    return [str(item["name"]) for item in body["items"]]


def test_registrations_search_by_text_in_product_file_id_and_name(console: Console) -> None:
    assert _names(_get(console, "/v1/registrations", q="quickbooks").json()) == [
        "Acme Ltd (QuickBooks)"
    ]
    # file id, case-insensitive, with a backslash in it
    assert _names(_get(console, "/v1/registrations", q=r"books\ACME").json()) == [
        "Acme Ltd (QuickBooks)"
    ]
    assert _names(_get(console, "/v1/registrations", q="practice").json()) == [
        "Practice (CCH Central)"
    ]
    # LIKE wildcards are text, not patterns
    assert _get(console, "/v1/registrations", q="%").json()["items"] == []
    assert _get(console, "/v1/registrations", q="_").json()["items"] == []


def test_registrations_filter_by_stuck_and_failed(console: Console) -> None:
    assert _names(_get(console, "/v1/registrations", status="stuck").json()) == [
        "Acme Ltd (QuickBooks)"
    ]
    assert _names(_get(console, "/v1/registrations", status="failed").json()) == [
        "Practice (CCH Central)"
    ]
    both = _get(console, "/v1/registrations", status="in_progress").json()
    assert _names(both) == ["Acme Ltd (QuickBooks)"]
    bad = _get(console, "/v1/registrations", status="broken")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    # Deleting the stuck session clears the filter.
    s = console.seeded
    console.services.ledger.delete_session(
        Context.system("sam.support"), s.accountlink, s.stuck, reason="stuck"
    )
    console.settle()
    assert _get(console, "/v1/registrations", status="stuck").json()["items"] == []


def test_worker_search_stays_inside_its_holdings(console: Console) -> None:
    assert _get(console, "/v1/registrations", role="worker", q="a").json()["items"] == []
    console.services.tokens.claim("acme-pc01", str(console.seeded.accountlink))
    mine = _get(console, "/v1/registrations", role="worker", q="acme").json()
    assert _names(mine) == ["Acme Ltd (QuickBooks)"]
    assert _get(console, "/v1/registrations", role="worker", q="practice").json()["items"] == []


def test_sessions_filter_by_status_including_stuck(console: Console) -> None:
    s = console.seeded
    path = f"/v1/registrations/{s.accountlink}/sessions"

    def ids(**params: Any) -> list[str]:
        body = _get(console, path, **params).json()
        return [str(item["id"]) for item in body["items"]]

    assert ids(status="stuck") == [s.stuck]
    assert ids(status="in_progress") == []  # the only one in progress is stuck
    assert s.completed in ids(status="completed") and s.stuck not in ids(status="completed")
    failed = _get(console, f"/v1/registrations/{s.oneclick}/sessions", status="failed").json()
    assert [i["id"] for i in failed["items"]] == [s.failed]
    errors = _get(console, f"/v1/registrations/{s.oneclick}/sessions", has_errors="true").json()
    assert [i["id"] for i in errors["items"]] == [s.failed]
    console.services.ledger.delete_session(
        Context.system("sam.support"), s.accountlink, s.stuck, reason="stuck"
    )
    console.settle()
    assert ids(status="stuck") == []
    assert ids(status="deleted") == [s.stuck]
    assert _get(console, path, status="nope").status_code == 422


def test_audit_filters_by_actor_action_and_time(console: Console) -> None:
    s = console.seeded
    ledger = console.services.ledger
    deleted = ledger.delete_session(
        Context.system("sam.support"), s.accountlink, s.stuck, reason="stuck"
    )
    ledger.undo(Context.system("kim.support"), deleted.position, reason="wrong one")
    console.settle()

    def types(**params: Any) -> list[str]:
        response = _get(console, "/v1/audit", role="auditor", **params)
        assert response.status_code == 200, response.text
        return [str(item["type"]) for item in response.json()["items"]]

    assert types() == ["session_deleted", "deletion_undone"]
    assert types(actor="kim.support") == ["deletion_undone"]
    assert types(type="session_deleted") == ["session_deleted"]
    assert types(registration_id=str(s.oneclick)) == []
    entries = _get(console, "/v1/audit", role="auditor").json()["items"]
    first_at = entries[0]["at"]
    assert types(since=first_at) == ["session_deleted", "deletion_undone"]
    assert types(until=first_at) == []
    assert types(since="2000-01-01T00:00:00Z", until="2001-01-01T00:00:00Z") == []
    naive = _get(console, "/v1/audit", role="auditor", since="2024-01-01T00:00:00")
    assert naive.status_code == 422 and naive.json()["error"]["details"]["field"] == "since"
    assert _get(console, "/v1/audit", role="auditor", type="unknown").status_code == 422
