"""The cheaper read paths of issue 16 answer what the old ones did: the 404 of a page under
an unknown registration (looked up only for an empty page), RFC 3339 times, and bodies
written as read, byte for byte what their response models wrote."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel

from api.models import ReceiptList, Registration, Session, SessionList
from api.responses import ORJSONResponse
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
    # Whole seconds come from a cache: every fraction of a cached second, and neighbours.
    start = (datetime(2026, 11, 23, 17, 59, 59, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // (
        datetime.resolution
    )
    for micros in [*range(start - 3, start + 4), *range(start, start + 3_000_000, 999_983)]:
        at = datetime(1970, 1, 1, tzinfo=UTC) + micros * datetime.resolution
        assert iso(micros) == at.isoformat(timespec="microseconds").replace("+00:00", "Z")


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


def _as_the_model_wrote(model: type[BaseModel], body: Any, exclude_unset: bool) -> bytes:
    """What FastAPI answered when it validated the route's dict through its response model
    (response_model_exclude_unset as the route sets it) and wrote it with the app's class."""
    dumped = model.model_validate(body).model_dump(
        mode="json", by_alias=True, exclude_unset=exclude_unset
    )
    return bytes(ORJSONResponse(dumped).body)


def test_reads_written_as_read_are_what_their_models_wrote(api: Api) -> None:
    """The registration, a session, the history and the receipts skip response-model
    validation (issue 16); they must answer what the models wrote (one registration and one
    session byte for byte) in every state: idle, in progress, stuck; a session with errors,
    deleted, removed by a reset."""
    routes: dict[str, tuple[type[BaseModel], bool]] = {
        "registration": (Registration, False),
        "session": (Session, True),
        "sessions": (SessionList, True),
        "receipts": (ReceiptList, False),
    }
    services = api.client.app.state.services  # type: ignore[attr-defined]
    checked: set[str] = set()

    def same(kind: str, path: str, position: int, **params: Any) -> dict[str, Any]:
        r = api.get(path, params={"min_position": position, **params})
        assert r.status_code == 200, r.text
        model, exclude_unset = routes[kind]
        wrote = _as_the_model_wrote(model, r.json(), exclude_unset)
        if kind in ("registration", "session"):
            assert r.content == wrote, path  # the same bytes
        else:  # pages were written as read before (items first): the same content
            assert r.json() == orjson.loads(wrote), path
        checked.add(kind)
        return r.json()  # type: ignore[no-any-return]

    reg = api.register(name="Acme Ltd books")
    rid = reg["id"]
    base = f"/v1/registrations/{rid}"
    body = same("registration", base, reg["position"])
    assert body["status"]["state"] == "idle" and body["status"]["session_id"] is None
    done = api.start(rid, worker="SRV-01", entity_types=["Client List"])["id"]
    api.records(rid, done, [("Client List", f"k{i}", "d") for i in range(3)])
    for n, extra in enumerate(({}, {"entity_type": "Client List", "key": "k9"})):
        r = api.post(f"{base}/sessions/{done}/errors", json={"message": f"e{n}", **extra})
        assert r.status_code == 201, r.text
    position = api.complete(rid, done)["position"]
    running = api.start(rid, "full", worker="SRV-02")
    body = same("registration", base, running["position"])
    assert body["status"]["state"] == "in_progress"
    assert len(same("session", f"{base}/sessions/{done}", position)["errors"]) == 2
    same("session", f"{base}/sessions/{running['id']}", running["position"])
    same("receipts", f"{base}/receipts", position)
    same("sessions", f"{base}/sessions", running["position"])

    services.read_models.clock = lambda: datetime.now(UTC) + timedelta(hours=3)
    try:
        body = same("registration", base, running["position"])
        assert body["status"]["state"] == "stuck"
        assert same("session", f"{base}/sessions/{running['id']}", 0)["stuck"] is True
    finally:
        services.read_models.clock = None

    deleted = api.post(
        f"{base}/sessions/{running['id']}/delete", role="support", json={"reason": "stuck"}
    )
    assert deleted.status_code == 200, deleted.text
    position = deleted.json()["position"]
    assert same("session", f"{base}/sessions/{running['id']}", position)["deleted"]
    reset = api.post(
        f"{base}/reset", role="support", json={"reason": "re-sync", "confirm_file_id": "acme.qbw"}
    )
    assert reset.status_code == 200, reset.text
    position = reset.json()["position"]
    assert same("session", f"{base}/sessions/{done}", position)["removed_by_reset"]
    history = same("sessions", f"{base}/sessions", position, include_deleted=True)
    assert len(history["items"]) == 2
    assert checked == set(routes)
