"""The support console (issue 5): server-rendered pages at /console.

`router` is included by `api.app.create_app`. Pages read `request.app.state.services`
(the Ledger, the read models, the token store); templates live in api/templates/, the
stylesheet and the confirmation dialog's script in api/static/.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.console import actions, auth, pages
from api.console.web import PREFIX, redirect

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
router.include_router(auth.router)
router.include_router(pages.router)
router.include_router(actions.router)


@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
def home(request: Request) -> Response:
    return redirect(f"{PREFIX}/registrations")


__all__ = ["router"]
