"""The support console (issue 5): server-rendered pages at /console.

`router` is included by `api.app.create_app`. Pages read `request.app.state.services`
(the Ledger, the read models, the token store); templates live in api/templates/, the
stylesheet and the confirmation dialog's script in api/static/.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.console import (
    actions,
    approvals,
    audit_pages,
    auth,
    grants,
    log_pages,
    pages,
    reset,
    settings,
    sync_requests,
    webhooks,
)
from api.console.auth import current
from api.console.pages import not_found
from api.console.web import PREFIX, redirect

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
router.include_router(auth.router)
router.include_router(pages.router)
router.include_router(log_pages.router)
router.include_router(audit_pages.router)
router.include_router(actions.router)
router.include_router(reset.router)
router.include_router(grants.router)
router.include_router(approvals.router)
router.include_router(settings.router)
router.include_router(sync_requests.router)
router.include_router(webhooks.router)


@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
def home(request: Request) -> Response:
    return redirect(f"{PREFIX}/registrations")


# Last: any other /console URL is the console's own 404 page, never the API's JSON.
@router.api_route("/{path:path}", methods=["GET", "HEAD", "POST"], include_in_schema=False)
def unknown(request: Request, path: str) -> Response:
    current(request)  # show who is signed in, if anyone
    return not_found(request)


__all__ = ["router"]
