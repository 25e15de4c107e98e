"""Sessions: start (idempotent, one in progress per type), batches, errors, end, reads."""

from __future__ import annotations

import uuid

from tests.api.conftest import Api, assert_error


def test_session_lifecycle(api: Api) -> None:
    rid = api.register()["id"]
    base = f"/v1/registrations/{rid}/sessions"
    sid = str(uuid.uuid4())
    r = api.post(
        base,
        json={
            "session_id": sid,
            "sync_type": "time",
            "worker": "ACME-PC01",
            "entity_types": ["Timesheet"],
        },
    )
    assert r.status_code == 201, r.text
    started = r.json()
    assert started["id"] == sid and started["status"] == "in_progress"
    again = api.post(base, json={"session_id": sid, "sync_type": "time"})
    assert again.status_code == 200 and again.json()["id"] == sid
    # one in-progress session per sync type
    error = assert_error(api.post(base, json={"sync_type": "time"}), 409, "session_in_progress")
    assert error["details"]["blocking_session_id"] == sid
    other = api.start(rid, "custom")  # another type is fine
    assert other["status"] == "in_progress"

    batch = [("Timesheet", f"T-{i}", f"d{i}") for i in range(5)]
    out = api.records(rid, sid, batch, batch_id="b1")
    assert (out["accepted"], out["duplicates"], out["records_synced"]) == (5, 0, 5)
    assert out["position"] > started["position"]
    repeat = api.records(rid, sid, batch, batch_id="b1")  # same batch_id: nothing new
    assert repeat["accepted"] == 0 and repeat["records_synced"] == 5
    dup = api.records(rid, sid, batch[:2] + [("Timesheet", "T-9", "d9")])
    assert (dup["accepted"], dup["duplicates"], dup["records_synced"]) == (1, 2, 6)

    r = api.post(
        f"{base}/{sid}/errors",
        json={"message": "Customer not found", "entity_type": "Timesheet", "key": "T-3"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["position"] > dup["position"]
    done = api.complete(rid, sid)
    assert done["status"] == "completed"
    assert api.complete(rid, sid)["status"] == "completed"  # a retry changes nothing
    error = assert_error(
        api.post(
            f"{base}/{sid}/records",
            json={"records": [{"entity_type": "T", "key": "k", "digest": "d"}]},
        ),
        409,
        "session_not_in_progress",
    )
    assert error["details"]["session_id"] == sid
    assert_error(
        api.post(f"{base}/{sid}/errors", json={"message": "late"}), 409, "session_not_in_progress"
    )
    assert_error(
        api.post(f"{base}/{sid}/fail", json={"reason": "x"}), 409, "session_not_in_progress"
    )
    failed = api.post(f"{base}/{other['id']}/fail", json={"reason": "Connection lost"})
    assert failed.status_code == 200 and failed.json()["status"] == "failed"

    position = failed.json()["position"]
    listed = api.read(base, position)
    assert [s["id"] for s in listed["items"]] == [other["id"], sid]
    for field in (
        "id",
        "sync_type",
        "status",
        "started_at",
        "ended_at",
        "records_synced",
        "error_count",
        "worker",
        "stuck",
        "deleted",
    ):
        assert field in listed["items"][0]
    one = api.read(f"{base}/{sid}", position, role="auditor")
    assert one["records_synced"] == 6 and one["error_count"] == 1
    assert one["errors"][0]["message"] == "Customer not found"
    assert one["deletion_check"] == {
        "safe": False,
        "failed_checks": ["has_records", "not_in_progress"],
    }
    recs = api.read(f"{base}/{sid}/records", position, limit=4)
    assert len(recs["items"]) == 4 and recs["next_cursor"]
    assert set(recs["items"][0]) >= {"entity_type", "key", "digest", "synced_at", "receipt_current"}
    more = api.read(f"{base}/{sid}/records", position, limit=4, cursor=recs["next_cursor"])
    assert len(more["items"]) == 2


def test_session_validation(api: Api) -> None:
    rid = api.register()["id"]
    base = f"/v1/registrations/{rid}/sessions"
    assert_error(api.post(base, json={}), 422, "validation_error")
    assert_error(api.post(base, json={"sync_type": "x" * 129}), 422, "validation_error")
    assert_error(
        api.post(base, json={"sync_type": "time", "session_id": "nope"}), 422, "validation_error"
    )
    error = assert_error(
        api.post(base, json={"sync_type": "time", "request_id": str(uuid.uuid4())}),
        422,
        "validation_error",
    )
    assert error["details"]["field"] == "request_id"
    sid = api.start(rid)["id"]
    rec = f"{base}/{sid}/records"
    error = assert_error(api.post(rec, json={"records": []}), 422, "validation_error")
    assert error["details"]["field"] == "records"
    too_many = [{"entity_type": "T", "key": str(i), "digest": "d"} for i in range(10_001)]
    error = assert_error(api.post(rec, json={"records": too_many}), 422, "validation_error")
    assert error["details"]["field"] == "records"
    assert error["details"]["errors"][0]["max_length"] == 10_000
    error = assert_error(
        api.post(rec, json={"records": [{"entity_type": "T", "key": "k" * 513, "digest": "d"}]}),
        422,
        "validation_error",
    )
    assert error["details"]["field"] == "records[0].key"
    assert error["details"]["errors"][0]["max_length"] == 512
    assert_error(
        api.post(rec, json={"records": [{"entity_type": "T", "key": "k", "digest": "d" * 129}]}),
        422,
        "validation_error",
    )
    assert_error(api.post(f"{base}/{sid}/fail", json={}), 422, "validation_error")
    assert_error(api.post(f"{base}/{uuid.uuid4()}/complete", json={}), 404, "not_found")
    assert_error(api.get(f"{base}/{uuid.uuid4()}"), 404, "not_found")
    assert_error(api.get(f"{base}/{uuid.uuid4()}/records"), 404, "not_found")
    # nothing was recorded by any refusal above
    one = api.read(f"{base}/{sid}", api.start(rid, "custom")["position"])
    assert one["records_synced"] == 0


def test_full_batch_of_10000(api: Api) -> None:
    rid = api.register()["id"]
    sid = api.start(rid)["id"]
    batch = [("AP Transactions", f"k{i}", "d") for i in range(10_000)]
    assert api.records(rid, sid, batch)["accepted"] == 10_000
