"""The cheaper read paths of issue 16 answer what the old ones did: the 404 of a page under
an unknown registration (looked up only for an empty page), and RFC 3339 times."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from projections.fmt import iso
from tests.api.conftest import Api, assert_error


def test_pages_under_a_registration_404_only_when_it_is_unknown(api: Api) -> None:
    unknown = uuid.uuid4()
    for path in ("sessions", "receipts"):
        assert_error(api.get(f"/v1/registrations/{unknown}/{path}"), 404, "not_found")
    reg = api.register()
    rid = reg["id"]
    for path in ("sessions", "receipts"):  # known, nothing in it yet: an empty page
        page = api.read(f"/v1/registrations/{rid}/{path}", reg["position"])
        assert page["items"] == [] and page["next_cursor"] is None
    sid = api.start(rid)["id"]
    api.records(rid, sid, [("T", "k", "d")])
    done = api.complete(rid, sid)
    assert [
        s["id"] for s in api.read(f"/v1/registrations/{rid}/sessions", done["position"])["items"]
    ] == [sid]
    assert api.read(f"/v1/registrations/{rid}/receipts", done["position"])["items"][0]["key"] == "k"
    services = api.client.app.state.services  # type: ignore[attr-defined]
    assert services.read_models.has_registration(uuid.UUID(rid))
    assert not services.read_models.has_registration(unknown)


def test_times_are_rfc3339_utc_with_microseconds() -> None:
    for at in (
        datetime(2024, 8, 5, 9, 30, tzinfo=UTC),
        datetime(2026, 11, 23, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
        datetime(2100, 2, 28, 0, 0, 0, 500_000, tzinfo=UTC),
    ):
        micros = (at - datetime(1970, 1, 1, tzinfo=UTC)) // datetime.resolution
        expected = at.isoformat(timespec="microseconds").replace("+00:00", "Z")
        assert iso(micros) == expected
    assert iso(None) is None


def test_pages_written_as_read_match_their_response_models(api: Api) -> None:
    """History and receipts pages skip response-model validation (issue 16): their bodies
    must already be what the models would write."""
    from api.models import ReceiptList, SessionList

    rid = api.register()["id"]
    sid = api.start(rid, worker="SRV-01", entity_types=["T"])["id"]
    api.records(rid, sid, [("T", f"k{i}", "d") for i in range(3)])
    api.post(f"/v1/registrations/{rid}/sessions/{sid}/errors", json={"message": "x"})
    done = api.complete(rid, sid)
    stuck = api.start(rid, "full")["id"]
    deleted = api.post(
        f"/v1/registrations/{rid}/sessions/{stuck}/delete",
        role="support",
        json={"reason": "stuck"},
    )
    assert deleted.status_code == 200, deleted.text
    last = deleted.json()["position"]
    assert last > done["position"]
    for path, model, params in (
        ("sessions", SessionList, {"include_deleted": True}),
        ("receipts", ReceiptList, {}),
    ):
        body = api.read(f"/v1/registrations/{rid}/{path}", last, **params)
        assert body["items"], path
        assert model.model_validate(body).model_dump(mode="json", exclude_unset=True) == body
