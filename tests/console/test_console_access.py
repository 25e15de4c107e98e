"""The console's access page (rule 13): the holder and the grants of a registration; support
grants a worker token access and takes it back; auditors read. TestClient, both backends."""

from __future__ import annotations

from console_kit import ACCOUNTLINK, Console, csrf_of

from domain.values import Context


def _held(console: Console) -> str:
    """The seeded Accountlink file, registered again by its agent's worker token (it claims it)."""
    product, file_id, _ = ACCOUNTLINK
    console.services.ledger.register(
        Context("acme-pc01"), product=product, file_id=file_id, worker="acme-pc01"
    )
    console.services.tokens.create("acme-pc02", "worker")
    console.settle()
    return f"/console/registrations/{console.seeded.accountlink}/access"


def test_support_grants_and_takes_back_access(console: Console) -> None:
    url = _held(console)
    console.sign_in("support")
    page = console.client.get(url)
    assert page.status_code == 200
    assert 'data-token="acme-pc01"' in page.text and "holder" in page.text
    assert 'id="no-grants"' in page.text
    assert '<option value="acme-pc02">' in page.text  # the worker tokens to choose from
    assert 'aria-current="page"' in page.text and "Access</a>" in page.text

    done = console.client.post(
        url,
        data={"csrf": csrf_of(page.text), "token_name": "acme-pc02", "reason": "second PC"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == url
    after = console.client.get(url).text
    assert "acme-pc02 may now reach this registration." in after
    assert 'data-token="acme-pc02"' in after and "sam.support" in after
    access = console.services.ledger.access(console.seeded.accountlink)
    assert [(g.token_name, g.granted_by) for g in access.grants] == [("acme-pc02", "sam.support")]
    assert console.services.tokens.holds("acme-pc02", str(console.seeded.accountlink))
    audit = console.client.get(f"/console/audit?registration={console.seeded.accountlink}").text
    assert "Access granted" in audit

    back = console.client.post(
        f"{url}/acme-pc02/revoke",
        data={"csrf": csrf_of(after), "reason": "PC retired"},
        follow_redirects=False,
    )
    assert back.status_code == 303
    final = console.client.get(url).text
    assert "acme-pc02 no longer reaches this registration." in final
    assert 'data-token="acme-pc02"' not in final
    assert not console.services.tokens.holds("acme-pc02", str(console.seeded.accountlink))


def test_refusals_are_pages_and_change_nothing(console: Console) -> None:
    url = _held(console)
    console.sign_in("support")
    csrf = csrf_of(console.client.get(url).text)
    unknown = console.client.post(url, data={"csrf": csrf, "token_name": "nobody"})
    assert unknown.status_code == 422 and "There is no token named" in unknown.text
    assert 'value="nobody"' in unknown.text  # what was typed stays in the form
    support = console.client.post(url, data={"csrf": csrf, "token_name": "kim.support"})
    assert support.status_code == 422 and "grants are for worker tokens" in support.text
    forged = console.client.post(url, data={"csrf": "0" * 40, "token_name": "acme-pc02"})
    assert forged.status_code == 403
    missing = console.client.post(f"{url}/acme-pc02/revoke", data={"csrf": csrf})
    assert missing.status_code == 404 and "no grant" in missing.text
    assert console.services.ledger.access(console.seeded.accountlink).grants == []


def test_auditors_read_the_access_page_and_change_nothing(console: Console) -> None:
    url = _held(console)
    console.sign_in("auditor")
    page = console.client.get(url)
    assert page.status_code == 200 and 'data-token="acme-pc01"' in page.text
    assert 'id="grant-form"' not in page.text and "Only a support token" in page.text
    refused = console.client.post(url, data={"csrf": csrf_of(page.text), "token_name": "acme-pc02"})
    assert refused.status_code == 403
    assert console.services.ledger.access(console.seeded.accountlink).grants == []
