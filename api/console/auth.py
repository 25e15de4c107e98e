"""Signing in to the console: the API token is typed once; the HttpOnly, SameSite=Strict
cookie then holds the id of a server-side session (api/console_sessions.py), never the token.

Every page resolves the signed-in person from that session on each request (so sign-out,
expiry and a revoked token stop it at once), and every form that changes something carries a
CSRF token derived from the session id and is refused without it. Roles are those of the
API: a worker token cannot sign in, an auditor reads everything and changes nothing.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.console.web import PREFIX, redirect, render
from api.errors import status_of
from domain.errors import LedgerError

SESSION_COOKIE = "syncledger_console"
CONSOLE_ROLES = ("support", "auditor")

router = APIRouter()
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Who:
    name: str
    role: str

    @property
    def can_change(self) -> bool:
        return self.role == "support"


class Bail(Exception):  # noqa: N818 - control flow, not an error
    """Stop handling this request and answer with `response`."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


def services(request: Request) -> Any:
    return request.app.state.services


def role_of(principal: Any) -> str:
    role = getattr(principal, "role", "")
    return str(getattr(role, "value", role))


def csrf_token(session_id: str) -> str:
    return hashlib.sha256(b"syncledger-console-csrf\0" + session_id.encode()).hexdigest()[:40]


def verify(request: Request, token: str) -> Who | None:
    principal = services(request).tokens.verify(token)
    if principal is None:
        return None
    return Who(name=str(principal.name), role=role_of(principal))


def current(request: Request) -> Who | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    found = services(request).console_sessions.resolve(session_id)
    if found is None or found.role not in CONSOLE_ROLES:
        return None
    who = Who(name=found.name, role=found.role)
    request.state.console_principal = who
    request.state.console_csrf = csrf_token(session_id)
    return who


def _next_target(request: Request) -> str:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return path


def _same_origin(request: Request) -> bool:
    """Browsers send Origin on POST; refuse a form posted from another site."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", request.url.netloc)


def refusal(request: Request, title: str, message: str, status_code: int) -> HTMLResponse:
    return render(
        request, "error.html", {"title": title, "message": message}, status_code=status_code
    )


def console_page(*, support_only: bool = False, write: bool = False) -> Callable[[F], F]:
    """Wrap a console handler: sign-in, role and CSRF checks, refusals as pages.

    The handler takes `request` (keyword) and, for writes, a `csrf` form field.
    """

    def decorate(handler: F) -> F:
        @functools.wraps(handler)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            request: Request = kwargs["request"]
            try:
                who = current(request)
                if who is None:
                    if write:
                        raise Bail(
                            refusal(
                                request,
                                "Signed out",
                                "Your console session has ended; nothing was changed. "
                                "Sign in again and repeat the action.",
                                401,
                            )
                        )
                    raise Bail(redirect(f"{PREFIX}/sign-in?next={_quote(_next_target(request))}"))
                if write:
                    sent = str(kwargs.get("csrf") or "")
                    if not _same_origin(request) or not hmac.compare_digest(
                        sent, request.state.console_csrf
                    ):
                        raise Bail(
                            refusal(
                                request,
                                "Form expired",
                                "This form did not come from your console session, so "
                                "nothing was changed. Reload the page and try again.",
                                403,
                            )
                        )
                if (support_only or write) and not who.can_change:
                    raise Bail(
                        refusal(
                            request,
                            "Not allowed",
                            f"You are signed in as {who.name} ({who.role}). Only a support "
                            "token can change the ledger; auditors can read everything.",
                            403,
                        )
                    )
                result: Response = handler(*args, **kwargs)
                return result
            except Bail as bail:
                return bail.response
            except LedgerError as error:
                status = status_of(error)
                title = "Not found" if status == 404 else "Refused"
                return refusal(request, title, error.message, status)

        return wrapper  # type: ignore[return-value]

    return decorate


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _safe_next(value: str | None) -> str:
    if value and value.startswith(PREFIX + "/") and not value.startswith("//"):
        return value
    return f"{PREFIX}/registrations"


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str | None = None) -> Response:  # noqa: A002
    if current(request) is not None:
        return redirect(_safe_next(next))
    return render(request, "sign_in.html", {"next": _safe_next(next), "error": None})


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",  # noqa: A002
) -> Response:
    target = _safe_next(next)
    token = token.strip()
    error: str | None = None
    who = verify(request, token) if token and _same_origin(request) else None
    if who is None:
        error = "That token is unknown or revoked. Ask an administrator for a support token."
    elif who.role == "worker":
        error = (
            f"{who.name} is a worker token, meant for a sync agent. The console needs a "
            "support or auditor token (the connector's own login cannot delete sessions)."
        )
        who = None
    elif who.role not in CONSOLE_ROLES:
        error = f"The role {who.role!r} cannot use the console."
        who = None
    if who is None:
        return render(request, "sign_in.html", {"next": target, "error": error}, status_code=401)
    sessions = services(request).console_sessions
    response = redirect(target)
    response.set_cookie(
        SESSION_COOKIE,
        sessions.open(token),
        max_age=int(sessions.lifetime.total_seconds()),
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if session_id and not hmac.compare_digest(csrf, csrf_token(session_id)):
        return refusal(request, "Form expired", "Reload the page and sign out again.", 403)
    if session_id:
        services(request).console_sessions.end(session_id)  # dead wherever the cookie is
    response = redirect(f"{PREFIX}/sign-in", flash="Signed out.", kind="info", request=request)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response
