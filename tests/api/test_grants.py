"""Rule 13 (issue 11, finding 2): a registration belongs to the worker token that registered
it first; another worker registering it is refused (409 `registration_held`, nothing of the
registration in the answer) until support grants it access. Both backends, API and CLI."""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

from typer.testing import CliRunner

from api.auth import TokenStore
from api.cli import app as cli
from domain.errors import RegistrationHeld
from domain.infra.database import Database
from domain.ledger import Ledger
from domain.values import Context, registration_id
from tests.api.conftest import Api, assert_error

FILE = {"product": "accountlink-quickbooks", "file_id": r"C:\Books\acme.qbw"}


def _worker(api: Api, name: str) -> str:
    store: TokenStore = api.client.app.state.services.tokens  # type: ignore[attr-defined]
    return store.create(name, "worker")


def _events(api: Api, rid: str) -> list[dict[str, Any]]:
    body = api.get(f"/v1/registrations/{rid}/events", role="auditor", params={"limit": 1000})
    assert body.status_code == 200, body.text
    return body.json()["items"]  # type: ignore[no-any-return]


def _grant(api: Api, rid: str, name: str, **extra: Any) -> Any:
    return api.post(
        f"/v1/registrations/{rid}/grants", role="support", json={"token_name": name, **extra}
    )


def test_another_worker_cannot_take_a_registration_over(api: Api) -> None:
    reg = api.register(**FILE, name="Acme Ltd books")
    intruder = _worker(api, "agent-b")
    before = _events(api, reg["id"])
    refused = api.post("/v1/registrations", role=intruder, json=FILE)
    error = assert_error(refused, 409, "registration_held")
    # nothing of the registration in the answer: not its id, name, file or holder
    for secret in (reg["id"], "Acme", "acme.qbw", "worker-token"):
        assert secret not in refused.text
    assert _events(api, reg["id"]) == before  # nothing recorded
    assert_error(api.get(f"/v1/registrations/{reg['id']}", role=intruder), 404, "not_found")
    assert_error(
        api.post(f"/v1/registrations/{reg['id']}/sessions", role=intruder, json={"sync_type": "t"}),
        404,
        "not_found",
    )
    assert error["details"] == {"token_name": "agent-b"}
    # the holder registers again as often as it likes
    again = api.post("/v1/registrations", json=FILE)
    assert again.status_code == 200 and again.json()["id"] == reg["id"]


def test_support_grants_access_and_takes_it_back(api: Api) -> None:
    reg = api.register(**FILE)
    rid = reg["id"]
    second = _worker(api, "agent-b")
    made = _grant(api, rid, "agent-b", reason="second server, ticket SUP-12")
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["token_name"] == "agent-b" and body["granted_by"] == "support-token"
    assert body["holder"] is False and body["granted_at"].endswith("Z")
    # the granted worker registers (200, the same id) and reaches it
    joined = api.post("/v1/registrations", role=second, json=FILE)
    assert joined.status_code == 200 and joined.json()["id"] == rid
    started = api.post(
        f"/v1/registrations/{rid}/sessions", role=second, json={"sync_type": "custom"}
    ).json()
    sid = started["id"]
    # A write answers at once; the read passes its position (read-your-writes).
    assert api.read(f"/v1/registrations/{rid}/sessions/{sid}", started["position"], role=second)
    assert rid in [
        i["id"]
        for i in api.read("/v1/registrations", made.json()["position"], role=second)["items"]
    ]
    # granting again, or granting the holder, records nothing
    assert _grant(api, rid, "agent-b").status_code == 200
    holder = _grant(api, rid, "worker-token")
    assert holder.status_code == 200 and holder.json()["holder"] is True
    listed = api.get(f"/v1/registrations/{rid}/grants", role="auditor").json()
    assert listed["holder"] == "worker-token"
    assert [g["token_name"] for g in listed["items"]] == ["agent-b"]
    assert listed["items"][0]["granted_by"] == "support-token"

    gone = api.client.request(
        "DELETE",
        f"/v1/registrations/{rid}/grants/agent-b",
        headers=api.headers("support"),
        json={"reason": "server retired"},
    )
    assert gone.status_code == 200, gone.text
    assert gone.json()["revoked"] is True
    assert_error(api.get(f"/v1/registrations/{rid}", role=second), 404, "not_found")
    assert_error(api.post("/v1/registrations", role=second, json=FILE), 409, "registration_held")
    again = api.client.delete(
        f"/v1/registrations/{rid}/grants/agent-b", headers=api.headers("support")
    )
    assert_error(again, 404, "not_found")
    assert api.get(f"/v1/registrations/{rid}/grants", role="support").json()["items"] == []

    # each change is an event of the registration, with who and why, and on the audit log
    kinds = [(e["type"], e["data"].get("token_name")) for e in _events(api, rid)]
    assert ("Registration.AccessGranted", "agent-b") in kinds
    assert ("Registration.AccessRevoked", "agent-b") in kinds
    audit = api.read("/v1/audit", gone.json()["position"], role="auditor", registration_id=rid)
    entries = [(a["type"], a["token_name"], a["actor"], a["reason"]) for a in audit["items"]]
    assert entries == [
        ("access_granted", "agent-b", "support-token", "second server, ticket SUP-12"),
        ("access_revoked", "agent-b", "support-token", "server retired"),
    ]
    only = api.read("/v1/audit", gone.json()["position"], role="auditor", type="access_granted")
    assert [a["type"] for a in only["items"]] == ["access_granted"]


def test_grants_are_refused_when_they_make_no_sense(api: Api) -> None:
    rid = api.register(**FILE)["id"]
    _worker(api, "agent-b")
    base = f"/v1/registrations/{rid}/grants"
    assert_error(api.post(base, role="worker", json={"token_name": "agent-b"}), 403, "forbidden")
    assert_error(api.get(base, role="worker"), 403, "forbidden")
    unknown = assert_error(_grant(api, rid, "nobody"), 422, "validation_error")
    assert unknown["details"]["field"] == "token_name"
    assert "tokens create nobody" in unknown["message"]
    assert_error(_grant(api, rid, "auditor-token"), 422, "validation_error")
    assert_error(_grant(api, "6f1c2b0e-8a51-5d3c-9a0e-3f5b1c2d4e6f", "agent-b"), 404, "not_found")
    assert_error(api.post(base, role="support", json={}), 422, "validation_error")
    assert api.get(base, role="support").json()["items"] == []


def test_a_recreated_worker_token_keeps_its_registrations(api: Api) -> None:
    store: TokenStore = api.client.app.state.services.tokens  # type: ignore[attr-defined]
    token = store.create("agent-d", "worker")
    rid = api.post("/v1/registrations", role=token, json=FILE).json()["id"]
    assert store.revoke("agent-d")
    rotated = store.create("agent-d", "worker")
    again = api.post("/v1/registrations", role=rotated, json=FILE)
    assert again.status_code == 200 and again.json()["id"] == rid
    assert api.get(f"/v1/registrations/{rid}", role=rotated).status_code == 200
    assert_error(api.post("/v1/registrations", json=FILE), 409, "registration_held")


def test_the_first_worker_claims_a_registration_support_made(api: Api) -> None:
    rid = api.post("/v1/registrations", role="support", json=FILE).json()["id"]
    late = _worker(api, "agent-b")
    claimed = api.post("/v1/registrations", role=late, json=FILE)
    assert claimed.status_code == 200 and claimed.json()["id"] == rid
    assert api.get(f"/v1/registrations/{rid}", role=late).status_code == 200
    assert_error(api.post("/v1/registrations", json=FILE), 409, "registration_held")
    kinds = [e["type"] for e in _events(api, rid)]
    assert kinds == ["Registration.Registered", "Registration.HolderClaimed"]
    assert api.get(f"/v1/registrations/{rid}/grants", role="support").json()["holder"] == "agent-b"
    # support registering again changes nothing
    assert api.post("/v1/registrations", role="support", json=FILE).status_code == 200
    assert len(_events(api, rid)) == 2


def _race(ledgers: list[Ledger], store: TokenStore, file_id: str) -> dict[str, str]:
    """Two workers register one new file at the same moment, one ledger each."""
    barrier = threading.Barrier(len(ledgers))
    outcome: dict[str, str] = {}

    def register(ledger: Ledger, name: str) -> None:
        barrier.wait()
        try:
            ledger.register(
                Context(name),
                product="accountlink-quickbooks",
                file_id=file_id,
                worker=name,
                side_writes=lambda rid: [store.claim_write(name, rid)],
            )
            outcome[name] = "holds"
        except RegistrationHeld:
            outcome[name] = "held"

    threads = [
        threading.Thread(target=register, args=(ledger, f"agent-{n}"))
        for n, ledger in enumerate(ledgers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcome


def test_two_workers_racing_to_register_one_file_exactly_one_holds(database: Database) -> None:
    """Two ledgers (as two serve processes would) register the same new file at once."""
    ledgers = [Ledger(database=database), Ledger(database=database)]
    store = TokenStore(database)
    try:
        for n in range(12):
            outcome = _race(ledgers, store, f"race-{n}.qbw")
            assert sorted(outcome.values()) == ["held", "holds"], outcome
            winner = next(name for name, o in outcome.items() if o == "holds")
            rid = registration_id("accountlink-quickbooks", f"race-{n}.qbw")
            fresh = Ledger(database=database)
            assert fresh.get_registration(rid).holder == winner
            fresh.close()
            assert [name for name in outcome if store.holds(name, str(rid))] == [winner]
    finally:
        store.close()
        for ledger in ledgers:
            ledger.close()


def test_tokens_grant_and_revoke_grant_from_the_command_line(database: Database) -> None:
    runner = CliRunner()
    url = ["--database-url", database.url]
    store = TokenStore(database)
    ledger = Ledger(database=database)
    try:
        store.create("agent-a", "worker")
        store.create("agent-b", "worker")
        rid = ledger.register(
            Context("agent-a"),
            product="p",
            file_id="f",
            worker="agent-a",
            side_writes=lambda r: [store.claim_write("agent-a", r)],
        ).registration_id
        done = runner.invoke(
            cli, [*url, "tokens", "grant", "agent-b", str(rid), "--actor", "jx-admin"]
        )
        assert done.exit_code == 0, done.output
        assert "may now reach" in done.stdout
        assert store.holds("agent-b", str(rid))
        fresh = Ledger(database=database)
        reg = fresh.get_registration(rid)
        assert reg.grants["agent-b"][0] == "jx-admin"
        fresh.close()
        same = runner.invoke(cli, [*url, "tokens", "grant", "agent-b", str(rid)])
        assert same.exit_code == 0 and "nothing recorded" in same.stdout
        unknown = runner.invoke(cli, [*url, "tokens", "grant", "nobody", str(rid)])
        assert unknown.exit_code == 1 and "no token named 'nobody'" in unknown.stderr
        bad = runner.invoke(cli, [*url, "tokens", "grant", "agent-b", "not-an-id"])
        assert bad.exit_code == 2
        back = runner.invoke(cli, [*url, "tokens", "revoke-grant", "agent-b", str(rid)])
        assert back.exit_code == 0, back.output
        assert not store.holds("agent-b", str(rid))
        twice = runner.invoke(cli, [*url, "tokens", "revoke-grant", "agent-b", str(rid)])
        assert twice.exit_code == 1 and "no grant" in twice.stderr
        assert isinstance(rid, UUID)
    finally:
        store.close()
        ledger.close()
