"""Rule 14 on the registration aggregate: sync requests, and which sessions fulfil them.

Mixed into `domain.registration.Registration` (these are its command methods); the events
they trigger are declared there, where their stored topics name them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from domain.errors import RequestNotPending
from domain.values import Context, emit

if TYPE_CHECKING:
    from domain.registration import Registration

# Rule 14: which session sync types fulfil a request of each kind.
FULFILS = {"full": ("full",), "periodic": ("periodic", "full")}


class RequestCommands:
    def pending_request_of(self, kind: str) -> str | None:
        reg = cast("Registration", self)
        return next((rid for rid, k in reg.pending_requests.items() if k == kind), None)

    def request_sync(self, ctx: Context, *, kind: str, confirmed: bool, request_id: str) -> str:
        """Rule 14: a kind already pending gives back the pending request's id."""
        reg = cast("Registration", self)
        pending = reg.pending_request_of(kind)
        if pending is not None:
            return pending
        emit(reg, ctx, reg.SyncRequested, request_id=request_id, kind=kind, confirmed=confirmed)
        return request_id

    def cancel_request(self, ctx: Context, request_id: str, reason: str) -> None:
        reg = cast("Registration", self)
        if request_id not in reg.pending_requests:
            raise RequestNotPending(
                f"Sync request {request_id} is not pending in this registration (it was "
                "fulfilled or cancelled, or never made); only a pending request can be "
                "cancelled.",
                request_id=request_id,
            )
        emit(reg, ctx, reg.SyncRequestCancelled, request_id=request_id, reason=reason)
