"""Issue 10 over HTTP: rule 12 (a batch repeating a record), rule 14 (sync requests), and
domain errors answered by code (the domain carries no HTTP status, names no URL)."""

from __future__ import annotations

import inspect
import re

import pytest

import domain.errors
from api.errors import DOMAIN_STATUS
from domain.errors import LedgerError
from tests.api.conftest import Api, assert_error


def test_a_batch_repeating_a_record_is_refused_whole(api: Api) -> None:
    """Finding 3: on SQLite the second copy won, on PostgreSQL the first; now: 422."""
    rid = api.register()["id"]
    sid = api.start(rid)["id"]
    url = f"/v1/registrations/{rid}/sessions/{sid}/records"
    records = [
        {"entity_type": "A", "key": "1", "digest": "x"},
        {"entity_type": "A", "key": "2", "digest": "x"},
        {"entity_type": "A", "key": "1", "digest": "y"},
    ]
    error = assert_error(api.post(url, json={"records": records}), 422, "validation_error")
    assert error["details"]["field"] == "records[2]"
    assert (error["details"]["entity_type"], error["details"]["key"]) == ("A", "1")
    assert "records[2] repeats records[0]" in error["message"]
    # Nothing was recorded: the first record is still missing, and a clean resend works.
    done = api.records(rid, sid, [("A", "1", "y"), ("A", "2", "x")])
    assert (done["accepted"], done["records_synced"]) == (2, 2)


def test_rule_14_sync_requests(api: Api) -> None:
    """Finding 8: a periodic session fulfilled a full request; requests of a kind piled up."""
    rid = api.register("cch-oneclick", "central")["id"]
    base = f"/v1/registrations/{rid}/sync-requests"
    full = api.post(base, role="support", json={"kind": "full", "confirm": True})
    assert full.status_code == 201, full.text
    again = api.post(base, role="support", json={"kind": "full", "confirm": True})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == full.json()["id"]
    assert again.json()["requested_by"] == "support-token"
    full_id = full.json()["id"]
    error = assert_error(
        api.post(
            f"/v1/registrations/{rid}/sessions",
            json={"sync_type": "periodic", "request_id": full_id},
        ),
        422,
        "validation_error",
    )
    assert error["details"]["field"] == "request_id"
    periodic = api.post(base, role="support", json={"kind": "periodic"}).json()
    # A full session fulfils a periodic request.
    started = api.start(rid, "full", request_id=periodic["id"])
    fulfilled = api.read(base, started["position"], status="fulfilled")
    assert [i["id"] for i in fulfilled["items"]] == [periodic["id"]]
    # Support cancels the full one.
    cancel = f"{base}/{full_id}/cancel"
    assert_error(api.post(cancel, role="worker", json={"reason": "no"}), 403, "forbidden")
    r = api.post(cancel, role="support", json={"reason": "asked by mistake"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["id"], body["status"], body["kind"]) == (full_id, "cancelled", "full")
    assert body["cancelled_by"] == "support-token"
    cancelled = api.read(base, body["position"], status="cancelled")
    (item,) = cancelled["items"]
    assert (item["id"], item["cancel_reason"], item["cancelled_by"]) == (
        full_id,
        "asked by mistake",
        "support-token",
    )
    assert api.read(base, body["position"], status="pending")["items"] == []
    error = assert_error(
        api.post(cancel, role="support", json={"reason": "again"}), 409, "request_not_pending"
    )
    assert error["details"]["request_id"] == full_id
    assert_error(
        api.post(f"{base}/{periodic['id']}/cancel", role="support", json={"reason": "x"}),
        409,
        "request_not_pending",
    )
    # The cancelled request cannot be named by a session any more.
    assert_error(
        api.post(
            f"/v1/registrations/{rid}/sessions",
            json={"sync_type": "custom", "request_id": full_id},
        ),
        422,
        "validation_error",
    )
    operations = api.client.get("/openapi.json").json()["paths"]
    cancel_op = operations["/v1/registrations/{rid}/sync-requests/{request_id}/cancel"]["post"]
    assert cancel_op["operationId"] == "cancel_sync_request"
    assert {"200", "409"} <= set(cancel_op["responses"])


@pytest.mark.parametrize(
    "error",
    [
        c
        for _, c in inspect.getmembers(domain.errors, inspect.isclass)
        if issubclass(c, LedgerError)
    ],
)
def test_domain_errors_carry_a_code_and_no_status(error: type[LedgerError]) -> None:
    assert not hasattr(error, "status"), "an HTTP status belongs in api/errors.py"
    if error is not LedgerError:
        assert error.code in DOMAIN_STATUS, f"map {error.code!r} in api/errors.DOMAIN_STATUS"


def test_no_rule_names_a_url() -> None:
    import pathlib

    for path in pathlib.Path(domain.errors.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"\b(GET|POST|PUT|PATCH|DELETE) [/…]", text), path
        assert "/v1/" not in text, path
