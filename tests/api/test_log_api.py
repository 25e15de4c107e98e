"""The verifiable log over HTTP: checkpoint and public key without a token, proofs for
support and auditors, bad parameters as error bodies, receipts with proof, and a witness
that follows honest growth and catches a rolled-back or forked log."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from domain import Database
from replay.merkle import leaf_hash, verify_consistency, verify_inclusion
from replay.note import Signer, Verifier, open_checkpoint
from replay.witness import WitnessError, run_witness
from tests.api.conftest import ROLES, Api, assert_error

BASE = "http://testserver"


def _fill(api: Api, records: int = 3) -> dict[str, Any]:
    rid = api.register(file_id=f"f{records}")["id"]
    sid = api.start(rid)["id"]
    written = api.records(rid, sid, [("Client List", f"C{i}", f"d{i}") for i in range(records)])
    return {"rid": rid, "sid": sid, "position": written["position"]}


def _signed_now(api: Api) -> dict[str, Any]:
    api.client.app.state.services.tree.step(force=True)  # type: ignore[attr-defined]
    r = api.get("/v1/log/checkpoint", role=None)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_checkpoint_and_public_key_need_no_token(api: Api) -> None:
    made = _fill(api)
    key = api.get("/v1/log/public-key", role=None).json()
    assert key["algorithm"] == "ed25519"
    verifier = Verifier.parse(key["verifier_key"])
    assert base64.b64decode(key["public_key"]) == verifier.public
    assert key["key_id"] == verifier.key_id
    cp = _signed_now(api)
    assert cp["tree_size"] >= made["position"] and cp["key_id"] == verifier.key_id
    checkpoint, _ = open_checkpoint(cp["note"], [verifier])
    assert checkpoint.root_hash.hex() == cp["root_hash"]
    assert checkpoint.timestamp == cp["timestamp"]


def test_proofs_check_against_the_signed_checkpoint(api: Api) -> None:
    made = _fill(api, 5)
    cp = _signed_now(api)
    root = bytes.fromhex(cp["root_hash"])
    size = cp["tree_size"]
    for position in (1, made["position"]):
        r = api.get("/v1/log/proof/inclusion", role="auditor", params={"position": position})
        assert r.status_code == 200, r.text
        proof = r.json()
        event = proof["event"]
        leaf = leaf_hash(
            event["position"],
            event["aggregate_id"].replace("-", ""),
            event["version"],
            event["topic"],
            base64.b64decode(event["state_b64"]),
        )
        assert leaf.hex() == proof["leaf_hash"]
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        verify_inclusion(proof["leaf_index"], size, leaf, path, root)
    r = api.get("/v1/log/proof/consistency", role="support", params={"from": 2, "to": size})
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["from"] == 2 and c["to"] == size and c["to_root"] == cp["root_hash"]
    verify_consistency(
        2, size, bytes.fromhex(c["from_root"]), root, [bytes.fromhex(h) for h in c["path"]]
    )


def test_bad_proof_requests_get_error_bodies(api: Api) -> None:
    _fill(api)
    cp = _signed_now(api)
    size = cp["tree_size"]
    inclusion, consistency = "/v1/log/proof/inclusion", "/v1/log/proof/consistency"
    assert_error(api.get(inclusion, role="worker", params={"position": 1}), 403, "forbidden")
    assert_error(api.get(inclusion, role=None, params={"position": 1}), 401, "unauthenticated")
    for params in ({}, {"position": 0}, {"position": "x"}, {"position": 1, "tree_size": -1}):
        assert_error(api.get(inclusion, role="auditor", params=params), 422, "validation_error")
    assert_error(api.get(inclusion, role="auditor", params={"position": 10**9}), 404, "not_found")
    assert_error(
        api.get(inclusion, role="auditor", params={"position": 1, "tree_size": size + 1000}),
        404,
        "not_found",
    )
    assert_error(
        api.get(inclusion, role="auditor", params={"position": size, "tree_size": 1}),
        422,
        "validation_error",
    )
    assert_error(
        api.get(consistency, role="auditor", params={"from": size, "to": 1}),
        422,
        "validation_error",
    )
    assert_error(api.get(consistency, role="auditor", params={"from": -1}), 422, "validation_error")
    assert_error(
        api.get(consistency, role="auditor", params={"from": 1, "to": size + 1000}),
        404,
        "not_found",
    )


def test_openapi_documents_the_log(api: Api) -> None:
    spec = api.get("/openapi.json", role=None).json()
    ops = {
        op["operationId"]: op
        for path in spec["paths"].values()
        for op in path.values()
        if isinstance(op, dict) and "operationId" in op
    }
    for name in ("get_checkpoint", "get_public_key", "prove_inclusion", "prove_consistency"):
        assert name in ops, sorted(ops)
        assert "200" in ops[name]["responses"]
    assert "422" in ops["prove_inclusion"]["responses"]
    assert "404" in ops["prove_inclusion"]["responses"]


def test_audit_verify_reports_against_the_latest_checkpoint(api: Api) -> None:
    _fill(api)
    cp = _signed_now(api)
    body = api.get("/v1/audit/verify", role="auditor").json()
    assert body["ok"] is True and body["first_bad_position"] is None
    assert body["checkpoint"]["tree_size"] == cp["tree_size"]
    assert body["checkpoint"]["source"] == "database"
    assert body["checkpoint"]["root_matches"] is True
    assert "signature verified" in " ".join(body["checks"]) or "verified with" in " ".join(
        body["checks"]
    )
    assert "kept elsewhere" in body["limits"]


# --- the witness ---------------------------------------------------------------------------


@pytest.fixture
def second_api(tmp_path: Path) -> Iterator[Api]:
    """Another server on another database, signing with the same key (same origin): to
    the witness, a rolled-back or forked copy of the log."""
    database = Database.from_url(f"sqlite:///{tmp_path / 'other.db'}")
    app = create_app(database)
    tokens = {role: app.state.services.tokens.create(f"{role}-token", role) for role in ROLES}
    with TestClient(app) as client:
        yield Api(client, tokens)


def test_witness_follows_honest_growth(api: Api, tmp_path: Path) -> None:
    state = tmp_path / "witness"
    token = api.tokens["auditor"]
    _fill(api)
    _signed_now(api)
    first = run_witness(api.client, BASE, state, token=token)
    assert first.previous is None and "first run" in first.messages[0]
    _fill(api, 7)
    _signed_now(api)
    grown = run_witness(api.client, BASE, state, token=token)
    assert grown.previous is not None
    assert grown.checkpoint.tree_size > grown.previous.tree_size
    again = run_witness(api.client, BASE, state, token=token)  # nothing new: still fine
    assert again.checkpoint.tree_size == grown.checkpoint.tree_size
    assert (state / "checkpoint").read_text().startswith(grown.checkpoint.origin)
    assert len(list((state / "checkpoints").iterdir())) == 2


def test_witness_catches_a_rollback(api: Api, second_api: Api, tmp_path: Path) -> None:
    state = tmp_path / "witness"
    _fill(api, 3)
    _fill(api, 4)
    _signed_now(api)
    run_witness(api.client, BASE, state, token=api.tokens["auditor"])
    kept = (state / "checkpoint").read_text()
    _fill(second_api, 3)  # the same log's beginning only
    _signed_now(second_api)
    with pytest.raises(WitnessError, match="ROLLBACK"):
        run_witness(second_api.client, BASE, state, token=second_api.tokens["auditor"])
    assert (state / "checkpoint").read_text() == kept  # the kept checkpoint stays


def test_witness_catches_a_fork(api: Api, second_api: Api, tmp_path: Path) -> None:
    state = tmp_path / "witness"
    _fill(api, 3)
    _signed_now(api)
    run_witness(api.client, BASE, state, token=api.tokens["auditor"])
    for records in (5, 6, 7):  # a longer history that does not start like the kept one
        _fill(second_api, records)
    _signed_now(second_api)
    with pytest.raises(WitnessError, match="FORK"):
        run_witness(second_api.client, BASE, state, token=second_api.tokens["auditor"])


def test_witness_refuses_a_key_nobody_endorsed(api: Api, tmp_path: Path) -> None:
    state = tmp_path / "witness"
    state.mkdir()
    stranger = Signer.generate("x/y").verifier.text()
    (state / "verifier_keys").write_text(stranger + "\n")
    _fill(api)
    _signed_now(api)
    with pytest.raises(WitnessError, match="no key this witness trusts endorsed"):
        run_witness(api.client, BASE, state, token=api.tokens["auditor"])


# --- receipts with proof -------------------------------------------------------------------


def _check_record_proof(body: dict[str, Any], verifier: Verifier) -> None:
    checkpoint, _ = open_checkpoint(body["checkpoint"]["note"], [verifier])
    proof = body["proof"]
    event = proof["event"]
    assert event["position"] == body["position"] == proof["position"]
    state = base64.b64decode(event["state_b64"])
    leaf = leaf_hash(
        event["position"],
        event["aggregate_id"].replace("-", ""),
        event["version"],
        event["topic"],
        state,
    )
    verify_inclusion(
        proof["leaf_index"],
        checkpoint.tree_size,
        leaf,
        [bytes.fromhex(h) for h in proof["audit_path"]],
        checkpoint.root_hash,
    )
    # The record is in the event's own bytes.
    assert body["key"].encode() in state and body["digest"].encode() in state


def test_a_receipt_and_a_session_record_come_with_their_proof(api: Api) -> None:
    made = _fill(api, 4)
    rid, sid = made["rid"], made["sid"]
    verifier = Verifier.parse(api.get("/v1/log/public-key", role=None).json()["verifier_key"])
    params = {"entity_type": "Client List", "key": "C2", "min_position": made["position"]}
    r = api.get(f"/v1/registrations/{rid}/receipts/proof", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["position"] == made["position"] and body["digest"] == "d2"
    _check_record_proof(body, verifier)
    listed = api.read(f"/v1/registrations/{rid}/receipts", made["position"])
    assert {i["position"] for i in listed["items"]} == {made["position"]}

    r = api.get(f"/v1/registrations/{rid}/sessions/{sid}/records/proof", params=params)
    assert r.status_code == 200, r.text
    _check_record_proof(r.json(), verifier)

    missing = {"entity_type": "Client List", "key": "nope"}
    assert_error(
        api.get(f"/v1/registrations/{rid}/receipts/proof", params=missing), 404, "not_found"
    )
    assert_error(
        api.get(f"/v1/registrations/{rid}/sessions/{sid}/records/proof", params=missing),
        404,
        "not_found",
    )
    assert_error(
        api.get(f"/v1/registrations/{rid}/receipts/proof", params={"key": "C1"}),
        422,
        "validation_error",
    )


def test_witness_command_exit_codes(
    api: Api, second_api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx
    import orjson
    from typer.testing import CliRunner

    from api.cli import app as cli

    serving = {"client": api.client}

    class _Serving:  # `httpx.Client(...)` in the command answers from the TestClient
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def __enter__(self) -> TestClient:
            return serving["client"]

        def __exit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(httpx, "Client", _Serving)
    state = str(tmp_path / "w")
    _fill(api, 3)
    _fill(api, 4)
    _signed_now(api)
    args = ["log", "witness", "--url", BASE, "--state", state, "--json"]
    ok = CliRunner().invoke(cli, [*args, "--token", api.tokens["auditor"]])
    assert ok.exit_code == 0, ok.output
    assert orjson.loads(ok.stdout)["ok"] is True
    _fill(second_api, 3)
    _signed_now(second_api)
    serving["client"] = second_api.client
    rolled = CliRunner().invoke(cli, [*args, "--token", second_api.tokens["auditor"]])
    assert rolled.exit_code == 1
    assert "ROLLBACK" in rolled.stderr


def test_key_rotation_keeps_old_checkpoints_and_the_witness_follows(
    api: Api, tmp_path: Path
) -> None:
    from replay.keys import create_key

    services = api.client.app.state.services  # type: ignore[attr-defined]
    _fill(api, 3)
    old_cp = _signed_now(api)
    state = tmp_path / "witness"
    run_witness(api.client, BASE, state, token=api.tokens["auditor"])
    old_key = api.get("/v1/log/public-key", role=None).json()
    create_key(services.tree.config.signing_key, rotate=True)
    _fill(api, 4)
    new_cp = _signed_now(api)
    key = api.get("/v1/log/public-key", role=None).json()
    assert key["key_id"] != old_key["key_id"] and new_cp["key_id"] == key["key_id"]
    [retired] = [k for k in key["retired"] if k["key_id"] == old_key["key_id"]]
    # The checkpoint signed before the rotation still verifies, with the retired key.
    open_checkpoint(old_cp["note"], [Verifier.parse(retired["verifier_key"])])
    # The witness trusted the old key; the old key endorsed the new one: it follows.
    moved = run_witness(api.client, BASE, state, token=api.tokens["auditor"])
    assert moved.checkpoint.tree_size == new_cp["tree_size"]
    assert any("key rotation" in m for m in moved.messages)


def test_audit_verify_says_what_it_cannot_see_when_the_checkpoints_are_gone(
    api: Api, app_database: Database
) -> None:
    """The attacker edits an event and empties the tables beside the log: with no
    checkpoint kept elsewhere, the report must not claim more than it checked."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "replay"))
    import replay_tamper as tamper

    from replay.tiles import open_tiles

    made = _fill(api, 3)
    kept = _signed_now(api)
    with tamper._conn(app_database) as (conn, table, pos, ph):
        conn.execute(
            f"UPDATE {table} SET state = state || {ph} WHERE {pos} = {ph}",
            (b" ", made["position"]),
        )
    with open_tiles(app_database) as tiles, tiles.transaction():
        tiles.clear_tiles()
        tiles.conn.execute("DELETE FROM log_checkpoints")
    body = api.get("/v1/audit/verify", role="auditor").json()
    if body["checkpoint"] is None:  # emptied: nothing to compare in the database
        assert "cannot be detected" in body["limits"]
    else:  # the follower signed again meanwhile — it must have refused the forged log
        assert body["ok"] is False
    # The checkpoint kept outside still catches it.
    from replay.verify import verify_log

    keys = [Verifier.parse(api.get("/v1/log/public-key", role=None).json()["verifier_key"])]
    report = verify_log(app_database, checkpoint_note=kept["note"], verifiers=keys)
    assert not report.ok and report.checkpoint is not None
    assert report.checkpoint["root_matches"] is False
