"""Rules 2 and 5 on the registration aggregate: sessions opening, closing, removed and
reinstated (one in progress per sync type; the stacks that say which is most recent).

Mixed into `domain.registration.Registration` (these are its command methods); the events
they trigger are declared there, where their stored topics name them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from domain import recent
from domain.errors import NotUndoable, SessionInProgress, ValidationFailed
from domain.sync_requests import FULFILS
from domain.values import Context, emit

if TYPE_CHECKING:
    from domain.registration import Registration


class SessionCommands:
    def open_session(
        self, ctx: Context, *, session_id: str, sync_type: str, request_id: str | None
    ) -> int:
        """Rule 2 and 14: open a session (fulfilling a request); returns its seq."""
        reg = cast("Registration", self)
        blocking = reg.session_in_progress(sync_type)
        if blocking is not None:
            raise SessionInProgress(
                f"A {sync_type!r} session ({blocking}) is already in progress in this "
                "registration. Wait for it to end, or, if it is stuck, delete it "
                "(see its deletion check) and start again.",
                blocking_session_id=blocking,
                sync_type=sync_type,
            )
        if request_id is not None:
            kind = reg.pending_requests.get(request_id)
            if kind is None:
                raise ValidationFailed(
                    f"Sync request {request_id} is not pending in this registration; "
                    "list the pending requests and name one of them.",
                    field="request_id",
                )
            if sync_type not in FULFILS[kind]:
                raise ValidationFailed(
                    f"Sync request {request_id} asks for a {kind} sync; a {sync_type!r} "
                    f"session cannot fulfil it (use sync_type {FULFILS[kind][0]!r}).",
                    field="request_id",
                    kind=kind,
                )
        seq = reg.session_seq + 1
        emit(reg, ctx, reg.SessionOpened, session_id=session_id, sync_type=sync_type, seq=seq)
        if request_id is not None:
            emit(reg, ctx, reg.SyncRequestFulfilled, request_id=request_id, session_id=session_id)
        return seq

    def close_session(self, ctx: Context, session_id: str, sync_type: str, status: str) -> None:
        reg = cast("Registration", self)
        emit(reg, ctx, reg.SessionClosed, session_id=session_id, sync_type=sync_type, status=status)

    def remove_session(
        self, ctx: Context, session_id: str, sync_type: str, refill: list[list[Any]] | None
    ) -> None:
        """Companion of a deletion; `refill` when needs_refill() said so (domain/recent.py)."""
        reg = cast("Registration", self)
        emit(
            reg,
            ctx,
            reg.SessionRemoved,
            session_id=session_id,
            sync_type=sync_type,
            refill=refill,
        )

    def needs_refill(self, session_id: str, sync_type: str) -> bool:
        reg = cast("Registration", self)
        return recent.needs_refill(reg.recent, reg.truncated, sync_type, session_id)

    def reinstate_session(
        self,
        ctx: Context,
        session_id: str,
        sync_type: str,
        seq: int,
        *,
        reopen: bool,
        position: int,
    ) -> None:
        """Companion of an undone deletion; refuses two in-progress sessions of one type."""
        reg = cast("Registration", self)
        blocking = reg.session_in_progress(sync_type) if reopen else None
        if blocking is not None and blocking != session_id:
            raise NotUndoable(
                f"Restoring session {session_id} would leave two {sync_type!r} sessions in "
                f"progress ({blocking} is in progress now). End or delete {blocking} first.",
                position=position,
                blocking_session_id=blocking,
            )
        emit(
            reg,
            ctx,
            reg.SessionReinstated,
            session_id=session_id,
            sync_type=sync_type,
            seq=seq,
            reopen=reopen,
        )
