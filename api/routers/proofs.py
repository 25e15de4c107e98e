"""Receipts and session records with proof: the event that recorded one record, and its
inclusion proof in a signed checkpoint — so an auditor can check one record's history
without the whole log."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query

from api.dependencies import Reader, ServicesDep
from api.errors import ApiError
from api.log_schemas import RecordProofOut
from api.reads import MinPosition, WaitS, await_position, require_registration
from api.routers.log import PROOF_ERRORS, current_checkpoint, proof_error
from api.routing import PrefixRouter
from api.schemas import EntityType, Key
from api.services import Services
from replay.proofs import ProofRequestError, prove_inclusion

router = PrefixRouter(prefix="/v1/registrations/{rid}", tags=["log"])


def with_proof(services: Services, item: dict[str, Any]) -> dict[str, Any]:
    """The record, the position of its event, the proof and the checkpoint it checks with."""
    position = int(item["position"])
    checkpoint = current_checkpoint(services)
    if checkpoint["tree_size"] < position:  # possibly not covered yet: sign up to here
        services.tree.step(force=True)
        checkpoint = current_checkpoint(services)
    try:
        proof = prove_inclusion(services.database, position, checkpoint["tree_size"])
    except ProofRequestError as e:
        raise proof_error(e) from None
    return {
        "entity_type": item["entity_type"],
        "key": item["key"],
        "digest": item["digest"],
        "position": position,
        "proof": proof,
        "checkpoint": checkpoint,
    }


@router.get(
    "/receipts/proof",
    operation_id="prove_receipt",
    summary="A current receipt with the event that recorded it and its inclusion proof",
    response_model=RecordProofOut,
    responses=PROOF_ERRORS,
)
def prove_receipt(
    rid: UUID,
    services: ServicesDep,
    principal: Reader,
    entity_type: Annotated[EntityType, Query()],
    key: Annotated[Key, Query()],
    min_position: MinPosition = None,
    wait_s: WaitS = 5.0,
) -> dict[str, Any]:
    await_position(services, min_position, wait_s)
    require_registration(services, rid)
    page = services.read_models.receipts(
        rid, entity_type=entity_type, key=key, limit=1, cursor=None
    )
    if not page.items:
        raise ApiError(
            404,
            "not_found",
            f"No current receipt for {entity_type!r} {key!r} in this registration.",
        )
    return with_proof(services, page.items[0])


@router.get(
    "/sessions/{sid}/records/proof",
    operation_id="prove_session_record",
    summary="A record this session synced, with the event that recorded it and its proof",
    response_model=RecordProofOut,
    responses=PROOF_ERRORS,
)
def prove_session_record(
    rid: UUID,
    sid: UUID,
    services: ServicesDep,
    principal: Reader,
    entity_type: Annotated[EntityType, Query()],
    key: Annotated[Key, Query()],
    min_position: MinPosition = None,
    wait_s: WaitS = 5.0,
) -> dict[str, Any]:
    await_position(services, min_position, wait_s)
    require_registration(services, rid)
    page = services.read_models.session_records(
        rid, str(sid), limit=1, cursor=None, entity_type=entity_type, key=key
    )
    if not page.items:
        raise ApiError(404, "not_found", f"Session {sid} synced no record {entity_type!r} {key!r}.")
    return with_proof(services, page.items[0])
