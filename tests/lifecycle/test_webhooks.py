"""Webhooks through the API and a real local HTTP receiver (both backends).

Guards: Standard Webhooks signature verified by the `standardwebhooks` package; retries with
exponential backoff after the receiver fails (same webhook-id each time); no message lost
when the server restarts while the receiver is down; a slow receiver is cut off by the
timeout; the delivery log shows every attempt.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from domain.infra.database import Database
from tests.lifecycle.kit import Clock, Driven, receiver


@pytest.fixture
def driven(database: Database) -> Iterator[Driven]:
    d = Driven(database, Clock())
    yield d
    d.close()


def subscribe(d: Driven, url: str, events: list[str]) -> dict[str, object]:
    r = d.post("/v1/webhooks", json={"url": url, "events": events, "description": "ops"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def fail_session(d: Driven, rid: str, sid: str, reason: str = "agent crashed") -> None:
    r = d.post(
        f"/v1/registrations/{rid}/sessions/{sid}/fail", role="worker", json={"reason": reason}
    )
    assert r.status_code == 200, r.text


def test_signed_delivery_verifies_with_standardwebhooks(driven: Driven) -> None:
    with receiver() as rx:
        hook = subscribe(driven, rx.url, ["session.failed", "session.deleted"])
        secret = str(hook["secret"])
        assert secret.startswith("whsec_")
        listed = driven.get("/v1/webhooks").json()["items"]
        assert [h["id"] for h in listed] == [hook["id"]]
        assert "secret" not in listed[0]  # shown once

        rid = driven.register()
        sid = driven.start(rid)
        fail_session(driven, rid, sid)
        done = driven.tick()
        assert done["webhooks"]["delivered"] == 1

        assert len(rx.received) == 1
        got = rx.received[0]
        payload = Webhook(secret).verify(got.body, got.headers)
        assert payload["type"] == "session.failed"
        assert payload["data"]["registration_id"] == rid
        assert payload["data"]["session_id"] == sid
        assert payload["data"]["reason"] == "agent crashed"
        assert payload["data"]["actor"] == "agent"
        with pytest.raises(WebhookVerificationError):  # another secret does not verify
            Webhook("whsec_" + "A" * 43).verify(got.body, got.headers)

        log = driven.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"]
        assert [(d["status"], d["attempts"], d["last_response_code"]) for d in log] == [
            ("delivered", 1, 200)
        ]
        assert log[0]["id"] == got.headers["webhook-id"]


def test_retries_back_off_then_deliver_with_the_same_id(driven: Driven) -> None:
    with receiver() as rx:
        rx.statuses = [500, 503]
        hook = subscribe(driven, rx.url, ["session.failed"])
        rid = driven.register()
        fail_session(driven, rid, driven.start(rid))

        driven.tick()  # attempt 1: 500
        first = driven.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"][0]
        assert (first["status"], first["attempts"], first["last_response_code"]) == (
            "pending",
            1,
            500,
        )
        assert first["next_attempt_at"] is not None
        driven.tick()  # not due yet: nothing sent
        assert len(rx.received) == 1

        driven.clock.advance(seconds=5)  # base backoff
        driven.tick()  # attempt 2: 503, next wait doubles
        assert len(rx.received) == 2
        driven.clock.advance(seconds=5)
        driven.tick()
        assert len(rx.received) == 2  # 10 s now, not 5
        driven.clock.advance(seconds=5)
        driven.tick()  # attempt 3: 200
        assert len(rx.received) == 3
        assert len({r.headers["webhook-id"] for r in rx.received}) == 1
        for r in rx.received:
            Webhook(str(hook["secret"])).verify(r.body, r.headers)
        delivery = driven.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"][0]
        assert delivery["status"] == "delivered"
        assert [a["response_code"] for a in delivery["attempt_log"]] == [500, 503, 200]
        assert delivery["next_attempt_at"] is None


def test_no_loss_across_a_restart_while_the_receiver_is_down(database: Database) -> None:
    clock = Clock()
    with receiver() as probe:
        url = probe.url  # a port that will be closed when the receiver is down
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    first = Driven(database, clock)
    try:
        hook = subscribe(first, url, ["session.failed", "session.deleted"])
        rid = first.register()
        fail_session(first, rid, first.start(rid))
        out = first.tick()  # the receiver is down: connection refused
        assert out["webhooks"]["sent"] == 1 and out["webhooks"]["delivered"] == 0
        sid2 = first.start(rid, "periodic")
    finally:
        first.close()  # the server stops with one message pending, one not yet queued

    second = Driven(database, clock, first.tokens)
    try:
        r = second.post(
            f"/v1/registrations/{rid}/sessions/{sid2}/delete", json={"reason": "stuck agent"}
        )
        assert r.status_code == 200, r.text
        with receiver(port) as rx:
            clock.advance(minutes=5)
            second.tick()
            types = sorted(orjson.loads(m.body)["type"] for m in rx.received)
            assert types == ["session.deleted", "session.failed"]
            for m in rx.received:
                Webhook(str(hook["secret"])).verify(m.body, m.headers)
    finally:
        second.close()


def test_a_slow_receiver_is_cut_off_by_the_timeout(database: Database) -> None:
    d = Driven(database, Clock(), webhook_timeout_seconds=0.3)
    try:
        with receiver() as rx:
            rx.delay = 1.5
            hook = subscribe(d, rx.url, ["session.failed"])
            rid = d.register()
            fail_session(d, rid, d.start(rid))
            d.settle()
            started = time.monotonic()
            d.housekeeping.run_once()
            assert time.monotonic() - started < 1.2
            item = d.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"][0]
            assert item["status"] == "pending"
            assert "Timeout" in item["last_error"]
    finally:
        d.close()


def test_subscriptions_are_support_only_and_validated(driven: Driven) -> None:
    r = driven.post(
        "/v1/webhooks", role="worker", json={"url": "http://x.test/", "events": ["session.failed"]}
    )
    assert r.status_code == 403
    r = driven.post("/v1/webhooks", json={"url": "ftp://x.test/", "events": ["session.failed"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = driven.post("/v1/webhooks", json={"url": "http://x.test/", "events": ["session.lost"]})
    assert r.status_code == 422
    r = driven.post("/v1/webhooks", json={"url": "http://x.test/", "events": []})
    assert r.status_code == 422
    missing = "00000000-0000-0000-0000-000000000000"
    assert driven.delete(f"/v1/webhooks/{missing}").json()["error"]["code"] == "not_found"
    assert driven.get(f"/v1/webhooks/{missing}/deliveries").status_code == 404


def test_deleting_a_webhook_cancels_what_it_has_pending(driven: Driven) -> None:
    with receiver() as rx:
        rx.statuses = [500]
        hook = subscribe(driven, rx.url, ["session.failed"])
        rid = driven.register()
        fail_session(driven, rid, driven.start(rid))
        driven.tick()
        r = driven.delete(f"/v1/webhooks/{hook['id']}")
        assert r.status_code == 200 and r.json() == {"id": hook["id"], "deleted": True}
        driven.clock.advance(hours=1)
        driven.tick()
        assert len(rx.received) == 1
        log = driven.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"]
        assert log[0]["status"] == "cancelled"
        assert driven.get("/v1/webhooks").json()["items"] == []
        assert driven.delete(f"/v1/webhooks/{hook['id']}").status_code == 404


def test_only_subscribed_events_and_only_from_creation_on(driven: Driven) -> None:
    with receiver() as rx:
        rid = driven.register()
        fail_session(driven, rid, driven.start(rid), "before the webhook")
        driven.tick()
        subscribe(driven, rx.url, ["session.deleted"])
        fail_session(driven, rid, driven.start(rid), "not subscribed")
        driven.tick()
        assert rx.received == []


def test_stuck_deleted_undone_and_reset_are_announced(driven: Driven) -> None:
    with receiver() as rx:
        hook = subscribe(
            driven,
            rx.url,
            ["session.stuck", "session.deleted", "action.undone", "registration.reset"],
        )
        rid = driven.register()
        sid = driven.start(rid)
        driven.clock.advance(minutes=121)
        driven.tick()  # flags the stuck session
        r = driven.post(
            f"/v1/registrations/{rid}/sessions/{sid}/delete", json={"reason": "stuck agent"}
        )
        assert r.status_code == 200, r.text
        driven.settle()
        audit = driven.get("/v1/audit", params={"registration_id": rid}).json()["items"]
        r = driven.post(f"/v1/audit/{audit[0]['position']}/undo", json={"reason": "back"})
        assert r.status_code == 200, r.text
        r = driven.post(
            f"/v1/registrations/{rid}/reset",
            json={"reason": "again", "confirm_file_id": "acme.qbw"},
        )
        assert r.status_code == 200, r.text
        driven.tick()
        bodies = [Webhook(str(hook["secret"])).verify(m.body, m.headers) for m in rx.received]
        bodies.sort(key=lambda b: b["data"]["position"])  # sent concurrently: any order
        assert [b["type"] for b in bodies] == [
            "session.stuck",
            "session.deleted",
            "action.undone",
            "registration.reset",
        ]
        stuck = bodies[0]["data"]
        assert stuck["session_id"] == sid and stuck["actor"] == "syncledger" and stuck["since"]
        assert bodies[2]["data"]["undo_of"] == audit[0]["position"]
