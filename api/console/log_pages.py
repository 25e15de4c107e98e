"""The auditors' log pages: verify the log, see the latest signed checkpoint, and download
the event-log export (support and auditors; nothing here changes the ledger).

The checkpoint shown is the one GET /v1/log/checkpoint answers; verification is that of
GET /v1/audit/verify; the export is that of `syncledger replay export` (JSON Lines, the
signed checkpoint as its last line, so the file can be re-verified on its own).
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.background import BackgroundTask

from api.console.auth import Bail, console_page, refusal, services
from api.console.web import render, secure
from api.errors import ApiError
from replay.keys import KeyFileError

router = APIRouter()


def latest_checkpoint(request: Request) -> tuple[dict[str, Any] | None, str | None]:
    """(the newest signed checkpoint, or None and why there is none)."""
    from api.routers.log import current_checkpoint

    try:
        return current_checkpoint(services(request)), None
    except ApiError as error:
        return None, error.message


@router.get("/audit/verify", response_class=HTMLResponse)
@console_page()
def verify(request: Request, run: str = "") -> Response:
    """The latest signed checkpoint at once; verification on request (it re-reads the whole
    log, so only when asked)."""
    result: dict[str, Any] | None = None
    if run:
        result = verify_result(request)
    checkpoint, why_not = latest_checkpoint(request)
    return render(
        request,
        "verify.html",
        {"result": result, "latest": checkpoint, "latest_missing": why_not},
    )


def verify_result(request: Request) -> dict[str, Any]:
    """The same verification as GET /v1/audit/verify."""
    from api.routers import audit as audit_api

    try:
        return dict(audit_api.verify(services(request), request.state.console_principal))
    except ApiError as error:
        raise Bail(
            refusal(request, "Verification unavailable", error.message, error.status)
        ) from None


@router.get("/audit/export.jsonl")
@console_page()
def export(request: Request, registration: str = "") -> Response:
    """Every event (or one registration's) up to a checkpoint signed for the export, as
    `syncledger replay export --format jsonl` writes it."""
    from replay.export import ExportError, export_events

    rid: UUID | None = None
    if registration:
        try:
            rid = UUID(registration)
        except ValueError:
            raise Bail(
                refusal(request, "Not found", f"{registration!r} is not a registration id.", 404)
            ) from None
        if services(request).read_models.get_registration(rid) is None:
            raise Bail(refusal(request, "Not found", f"No registration with id {rid}.", 404))
    svc = services(request)
    handle, path = tempfile.mkstemp(prefix="syncledger-export-", suffix=".jsonl")
    os.close(handle)
    try:
        export_events(
            svc.database, path, fmt="jsonl", registration_id=rid, log_config=svc.tree.config
        )
    except (ExportError, KeyFileError) as error:
        os.unlink(path)
        raise Bail(
            refusal(
                request,
                "Export unavailable",
                f"The export was not made: {error}. Verify the log for details.",
                409,
            )
        ) from None
    except BaseException:
        os.unlink(path)
        raise
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    scope = f"-{rid}" if rid else ""
    response = FileResponse(
        path,
        media_type="application/jsonl",
        filename=f"syncledger-events{scope}-{stamp}.jsonl",
        background=BackgroundTask(os.unlink, path),
    )
    return secure(response)
