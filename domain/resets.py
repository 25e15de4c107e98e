"""Rules 7 and 8 on the registration aggregate: a reset, and undoing one.

Mixed into `domain.registration.Registration` (these are its command methods); the events
they trigger are declared there, where their stored topics name them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from domain.errors import NotUndoable
from domain.values import Context, emit

if TYPE_CHECKING:
    from domain.registration import Registration


class ResetCommands:
    @property
    def reset_cutoff(self) -> int:
        """Sessions with seq at or below this are removed by a reset still in force."""
        reg = cast("Registration", self)
        return max((c["cutoff"] for c in reg.resets.values() if c["active"]), default=0)

    def reset(
        self,
        ctx: Context,
        *,
        reason: str,
        chain: str,
        cutoff: int,
        undo_of: int | None,
    ) -> list[list[Any]]:
        """Rule 7: trigger the reset and its compensating unsync. Returns the in-progress
        sessions it removes ([session_id, sync_type, seq])."""
        reg = cast("Registration", self)
        in_progress = [
            [sid, sync_type, seq]
            for sync_type, (sid, seq) in reg.open_sessions.items()
            if seq <= cutoff
        ]
        emit(
            reg,
            ctx,
            reg.RegistrationReset,
            chain=chain,
            reason=reason,
            cutoff=cutoff,
            in_progress_removed=in_progress,
            undo_of=undo_of,
        )
        # The count of receipts is not the log's to know cheaply (it is every receipt of a
        # session up to the cutoff): the event records the cutoff, which determines it.
        emit(
            reg,
            ctx,
            reg.ReceiptsUnsynced,
            reset_version=reg.version,
            sessions_up_to_seq=cutoff,
            receipts=None,
        )
        return in_progress

    def undo_reset(
        self, ctx: Context, *, chain: str, position: int, reason: str
    ) -> list[list[Any]]:
        """Rule 8: undo a reset. Returns the sessions it reopens ([sid, sync_type, seq])."""
        reg = cast("Registration", self)
        still_cut = max(
            (c["cutoff"] for k, c in reg.resets.items() if c["active"] and k != chain),
            default=0,
        )
        reopened: list[list[Any]] = []
        claimed: dict[str, str] = {}
        for sid, (sync_type, seq) in sorted(reg.dormant.items(), key=lambda e: e[1][1]):
            if seq <= still_cut:
                continue
            blocking = claimed.get(sync_type) or reg.session_in_progress(sync_type)
            if blocking is not None:
                raise NotUndoable(
                    f"Undoing this reset would leave two {sync_type!r} sessions in progress "
                    f"({sid}, hidden by the reset, and {blocking}). End or delete {blocking} "
                    "first, if it is visible; otherwise undo the later reset first.",
                    position=position,
                    blocking_session_id=blocking,
                )
            claimed[sync_type] = sid
            reopened.append([sid, sync_type, seq])
        emit(
            reg,
            ctx,
            reg.ResetUndone,
            chain=chain,
            undo_of=position,
            reason=reason,
            reopened=reopened,
        )
        return reopened
