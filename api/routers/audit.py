from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Path, Query, Request

from api.audit_models import AuditList, UndoOut
from api.dependencies import Inspector, ServicesDep, Support, context_for
from api.errors import ApiError
from api.log_schemas import UnsyncedList, VerifyOut
from api.openapi import AUTH, errors
from api.reads import (
    Cursor,
    Limit,
    MinPosition,
    WaitS,
    await_position,
    paged,
    settled,
)
from api.routing import PrefixRouter
from api.schemas import Name, UndoIn
from domain.values import MAX_POSITION
from projections.fmt import decode_cursor, encode_cursor
from projections.reads.audit import AuditFilter
from replay.keys import KeyFileError

router = PrefixRouter(prefix="/v1/audit", tags=["audit"])
AuditType = Literal[
    "session_deleted",
    "registration_reset",
    "deletion_undone",
    "reset_undone",
    "access_granted",
    "access_revoked",
]
Position = Annotated[int, Path(ge=1, le=MAX_POSITION, description="Global position of the event")]


@router.get(
    "",
    operation_id="list_audit",
    summary="Destructive actions (deletions, resets) and their undos",
    response_model=AuditList,
    responses=errors(*AUTH),
)
def audit(
    services: ServicesDep,
    principal: Inspector,
    registration_id: Annotated[UUID | None, Query()] = None,
    after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    actor: Annotated[Name | None, Query(description="Who acted (token name)")] = None,
    type: Annotated[  # noqa: A002 - the contract's field name
        AuditType | None, Query(description="Only this kind of action")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="Entries at or after this time (RFC 3339)")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Entries before this time (RFC 3339)")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    min_position: MinPosition = None,
    wait_s: WaitS = 5.0,
) -> dict[str, Any]:
    position = await_position(services, min_position, wait_s)
    filters = AuditFilter(
        actor=actor, type=type, since=micros_of(since, "since"), until=micros_of(until, "until")
    )
    return paged(
        lambda: services.read_models.audit(
            registration_id=registration_id,
            after=after,
            limit=limit,
            cursor=cursor,
            filters=filters,
        ),
        cursor,
        position,
    )


def micros_of(moment: datetime | None, field: str) -> int | None:
    """A query time as µs since the epoch; a time without a zone is refused (RFC 3339)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ApiError(
            422,
            "validation_error",
            f"{field} needs a time zone (RFC 3339, e.g. 2024-08-05T09:30:00Z).",
            field=field,
        )
    return int(moment.timestamp() * 1_000_000)


@router.get(
    "/verify",
    operation_id="verify_log",
    summary="Recompute the log's Merkle tree and check it against the latest signed checkpoint",
    response_model=VerifyOut,
    responses=errors(*AUTH),
)
def verify(services: ServicesDep, principal: Inspector) -> dict[str, Any]:
    """Re-reads every event; the report's `checks` say what was compared and `limits`
    what a checkpoint kept in the same database cannot rule out."""
    from replay.keys import known_verifiers
    from replay.verify import verify_log

    try:
        keys = known_verifiers(services.tree.config.signing_key)
    except KeyFileError:
        keys = []
    return verify_log(services.database, verifiers=keys).as_dict()


@router.get(
    "/{position}/unsynced",
    operation_id="list_unsynced",
    summary="The records a session deletion or a registration reset unsynced, from the log",
    response_model=UnsyncedList,
    responses=errors(
        *AUTH, (404, "not_found: no session deletion or registration reset there"), 422
    ),
)
def unsynced(
    position: Position,
    services: ServicesDep,
    principal: Inspector,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """`position`: a `session_deleted` or `registration_reset` entry of GET /v1/audit (or
    its companion unsync event). A deletion unsynced the session's own records, newest
    digest each, minus those a newer session not deleted then had synced (rule 6); a reset,
    every current receipt from a session up to its cutoff (rule 7) — as `syncledger replay
    unsynced` derives them."""
    from replay.unsynced import deletion_unsynced, reset_unsynced

    found: dict[str, Any]
    try:
        deletion = deletion_unsynced(services.database, position)
        found = {"kind": "session_deleted", "session_id": deletion.session_id, "cutoff": None}
        found.update(registration_id=deletion.registration_id, records=deletion.records)
    except ValueError:
        try:
            reset = reset_unsynced(services.database, position)
        except ValueError:
            raise ApiError(
                404,
                "not_found",
                f"No session deletion or registration reset at position {position}: pass the "
                "position of a session_deleted or registration_reset entry of GET /v1/audit.",
                position=position,
            ) from None
        found = {"kind": "registration_reset", "session_id": None, "cutoff": reset.cutoff}
        found.update(registration_id=reset.registration_id, records=reset.records)
    records = found.pop("records")
    key = decode_cursor(cursor, int)  # strict, in one place: 422 for a made-up cursor
    start = int(key[0]) if key else 0
    page = records[start : start + limit]
    end = start + len(page)
    return {
        **found,
        "total": len(records),
        "items": [{"entity_type": et, "key": key, "digest": d} for et, key, d in page],
        "next_cursor": encode_cursor([end]) if end < len(records) else None,
        "position": position,
    }


@router.post(
    "/{position}/undo",
    operation_id="undo",
    summary="Undo a deletion, a reset, or an undo",
    response_model=UndoOut,
    responses=errors(
        *AUTH,
        404,
        (409, "not_undoable: not a deletion, reset or undo, or already undone"),
        413,
    ),
)
def undo(
    position: Position,
    body: UndoIn,
    request: Request,
    services: ServicesDep,
    principal: Support,
) -> dict[str, Any]:
    ledger = services.ledger
    # An undo of an undone reset re-applies it and records the receipts it unsyncs.
    services.read_models.wait_for(ledger.current_position(), 10.0)
    result = ledger.undo(context_for(request, principal), position, reason=body.reason)
    body_out: dict[str, Any] = {
        "undone": result.undone,
        "kind": result.kind,
        "registration_id": str(result.registration_id),
        "session_id": result.session_id,
        "receipts_restored": None,
        "receipts_skipped": None,
        "position": result.position,
    }
    if settled(services, result.position):
        for candidate in (result.position, result.position - 1):
            entry = services.read_models.audit_entry(candidate)
            if entry is not None and entry.get("undo_of") is not None:
                body_out["receipts_restored"] = entry.get("receipts_restored")
                body_out["receipts_skipped"] = entry.get("receipts_skipped")
                if entry.get("unsynced") is not None:
                    body_out["unsynced"] = entry["unsynced"]
                break
    for key in ("receipts_restored", "receipts_skipped"):
        if body_out[key] is None:
            body_out[key] = 0
    return body_out
