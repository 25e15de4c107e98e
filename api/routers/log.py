"""The verifiable log: signed checkpoints, the public key, inclusion and consistency proofs."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import Query
from fastapi.concurrency import run_in_threadpool

from api.dependencies import Inspector, ServicesDep
from api.errors import ApiError
from api.log_schemas import (
    CheckpointOut,
    ConsistencyProofOut,
    InclusionProofOut,
    PublicKeyOut,
)
from api.openapi import errors
from api.routing import PrefixRouter
from api.services import Services
from replay.keys import KeyFileError, load_or_create, retired_keys
from replay.proofs import (
    ProofRequestError,
    checkpoint_dict,
    latest_checkpoint,
    prove_consistency,
    prove_inclusion,
)
from replay.treelog import ForkRefused

router = PrefixRouter(prefix="/v1/log", tags=["log"])


# What every route answering with a proof may refuse (here and in api/routers/proofs.py).
PROOF_ERRORS = errors(
    401,
    403,
    (404, "not_found: no such position or tree size (yet)"),
    422,
    (503, "projection_lagging: the tree has not reached that size yet"),
)


def proof_error(e: ProofRequestError) -> ApiError:
    """A refused proof request as the contract's error."""
    return ApiError(e.status, e.code, e.message, **e.details)


def current_checkpoint(services: Services) -> dict[str, Any]:
    """The newest stored checkpoint; the first time, one signed here and now."""
    found = latest_checkpoint(services.database)
    if found is not None:
        return found
    try:
        services.tree.step(force=True)
    except KeyFileError as e:
        raise ApiError(
            503, "signing_key_unavailable", f"No checkpoint can be signed: {e}"
        ) from None
    except ForkRefused as e:
        raise ApiError(409, "log_forked", str(e)) from None
    note = services.tree.latest_note()
    if note is None:
        raise ApiError(503, "projection_lagging", "No checkpoint has been signed yet; retry.")
    return checkpoint_dict(note)


@router.get(
    "/checkpoint",
    operation_id="get_checkpoint",
    summary="The latest signed checkpoint (no token)",
    response_model=CheckpointOut,
    responses=errors(
        (409, "log_forked: the log no longer extends its last signed checkpoint"),
        (503, "signing_key_unavailable: no checkpoint can be signed yet"),
    ),
)
async def get_checkpoint(services: ServicesDep) -> dict[str, Any]:
    return await run_in_threadpool(current_checkpoint, services)


@router.get(
    "/public-key",
    operation_id="get_public_key",
    summary="The key that signs checkpoints, and the retired ones (no token)",
    response_model=PublicKeyOut,
    responses=errors((503, "signing_key_unavailable: the key file cannot be read")),
)
def get_public_key(services: ServicesDep) -> dict[str, Any]:
    path = services.tree.config.signing_key
    try:
        verifier = load_or_create(path).verifier
        retired = [k.as_dict() for k in retired_keys(path)]
    except KeyFileError as e:
        raise ApiError(503, "signing_key_unavailable", str(e)) from None
    return {
        "key_id": verifier.key_id,
        "name": verifier.name,
        "algorithm": "ed25519",
        "public_key": base64.b64encode(verifier.public).decode(),
        "verifier_key": verifier.text(),
        "retired": retired,
    }


@router.get(
    "/proof/inclusion",
    operation_id="prove_inclusion",
    summary="Inclusion proof of the event at a position in a tree size",
    response_model=InclusionProofOut,
    responses=PROOF_ERRORS,
)
def inclusion(
    services: ServicesDep,
    principal: Inspector,
    position: Annotated[int, Query(ge=1, le=2**62, description="The event's position")],
    tree_size: Annotated[
        int | None,
        Query(ge=1, le=2**62, description="Tree size (default: the latest checkpoint's)"),
    ] = None,
) -> dict[str, Any]:
    try:
        return prove_inclusion(services.database, position, tree_size)
    except ProofRequestError as e:
        raise proof_error(e) from None


@router.get(
    "/proof/consistency",
    operation_id="prove_consistency",
    summary="Consistency proof between two tree sizes",
    response_model=ConsistencyProofOut,
    responses=PROOF_ERRORS,
)
def consistency(
    services: ServicesDep,
    principal: Inspector,
    from_: Annotated[int, Query(alias="from", ge=0, le=2**62, description="Older tree size")],
    to: Annotated[
        int | None,
        Query(ge=0, le=2**62, description="Newer tree size (default: latest checkpoint's)"),
    ] = None,
) -> dict[str, Any]:
    try:
        return prove_consistency(services.database, from_, to)
    except ProofRequestError as e:
        raise proof_error(e) from None
