"""/metrics in the Prometheus text format and the JSON request log (both backends)."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.settings import get_settings
from domain.infra.database import Database
from tests.lifecycle.kit import Clock, Driven, receiver


@pytest.fixture
def driven(database: Database) -> Iterator[Driven]:
    d = Driven(database, Clock())
    yield d
    d.close()


def scrape(d: Driven) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = d.client.get("/metrics")  # no token: bound privately
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_cover_requests_events_records_lag_sessions_and_webhooks(driven: Driven) -> None:
    rid = driven.register()
    sid = driven.start(rid)
    r = driven.post(
        f"/v1/registrations/{rid}/sessions/{sid}/records",
        role="worker",
        json={
            "records": [
                {"entity_type": "Client List", "key": str(i), "digest": "d"} for i in range(7)
            ]
        },
    )
    assert r.status_code == 200
    with receiver() as rx:
        rx.statuses = [500]
        driven.post("/v1/webhooks", json={"url": rx.url, "events": ["session.failed"]})
        other = driven.start(rid, "periodic")
        driven.post(
            f"/v1/registrations/{rid}/sessions/{other}/fail", role="worker", json={"reason": "x"}
        )
        driven.tick()
    driven.settle()
    m = scrape(driven)
    head = driven.services.ledger.current_position()

    key = (
        "syncledger_http_requests_total",
        (("method", "POST"), ("route", "/v1/registrations/{rid}/sessions"), ("status", "201")),
    )
    assert m[key] == 2
    count = m[
        (
            "syncledger_http_request_duration_seconds_count",
            (("method", "POST"), ("route", "/v1/registrations/{rid}/sessions")),
        )
    ]
    assert count == 2
    assert m[("syncledger_events_appended_total", ())] == head
    assert m[("syncledger_records_ingested_total", ())] == 7
    assert m[("syncledger_projection_lag_events", (("view", "sessions"),))] == 0
    assert ("syncledger_projection_lag_events", (("view", "webhooks"),)) in m
    assert m[("syncledger_sessions_in_progress", ())] == 1
    assert m[("syncledger_sessions_stuck", ())] == 0
    assert m[("syncledger_webhook_backlog", ())] == 1  # the 500 left it pending
    assert m[("syncledger_webhook_failed_attempts_total", ())] == 1

    driven.clock.advance(minutes=121)  # past the default stuck_after_minutes
    assert scrape(driven)[("syncledger_sessions_stuck", ())] == 1


def test_json_request_log_has_correlation_route_status_duration(
    database: Database, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNCLEDGER_LOG_JSON", "true")
    get_settings.cache_clear()
    try:
        d = Driven(database, Clock())
    finally:
        get_settings.cache_clear()
    try:
        capfd.readouterr()
        rid = d.register()
        d.settle()  # writes answer without waiting for the views (issue 16); read what was written
        r = d.client.get(
            f"/v1/registrations/{rid}", headers={**d.h("worker"), "X-Correlation-ID": "req-42"}
        )
        assert r.status_code == 200
        lines = [orjson.loads(x) for x in capfd.readouterr().err.splitlines() if x.startswith("{")]
        line = next(x for x in lines if x["correlation_id"] == "req-42")
        assert line["route"] == "/v1/registrations/{rid}"
        assert line["status"] == 200 and line["method"] == "GET"
        assert line["duration_ms"] >= 0 and line["actor"] == "agent"
    finally:
        d.close()
