"""Rule 13 on the registration aggregate: which worker tokens may reach it (the rule;
domain/access.py runs it as the ledger's commands).

Mixed into `domain.registration.Registration` (these are its command methods); the events
they trigger are declared there, where their stored topics name them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from domain.errors import NotFound, RegistrationHeld
from domain.values import Context, emit

if TYPE_CHECKING:
    from domain.registration import Registration


class AccessCommands:
    def may_reach(self, worker: str) -> bool:
        """Rule 13: may this worker token name reach the registration?"""
        reg = cast("Registration", self)
        return worker == reg.holder or worker in reg.grants

    def admit(self, ctx: Context, worker: str | None) -> bool:
        """Rule 13, on registering again: support (`worker` None), the holder and the
        workers granted access are let in; an unheld registration is claimed by the first
        worker (True: a claim was triggered); anyone else is refused, and told nothing of
        the registration (not its id, name or holder)."""
        reg = cast("Registration", self)
        if worker is None or reg.may_reach(worker):
            return False
        if reg.holder is None:
            emit(reg, ctx, reg.HolderClaimed, token_name=worker)
            return True
        raise RegistrationHeld(
            "This product and file are already registered by another worker token, so this "
            "token cannot use them. If this agent should sync the file, ask support to grant "
            f"the token {worker!r} access (syncledger tokens grant {worker} REGISTRATION).",
            token_name=worker,
        )

    def grant(self, ctx: Context, token_name: str, reason: str | None = None) -> bool:
        """Rule 13: let another worker token reach the registration; False when it already
        may (the holder, or granted before): nothing to record."""
        reg = cast("Registration", self)
        if reg.may_reach(token_name):
            return False
        emit(reg, ctx, reg.AccessGranted, token_name=token_name, reason=reason)
        return True

    def revoke_grant(self, ctx: Context, token_name: str, reason: str | None = None) -> None:
        reg = cast("Registration", self)
        if token_name not in reg.grants:
            held = " (it holds the registration; a holder is not a grant)"
            raise NotFound(
                f"Token {token_name!r} has no grant on this registration"
                f"{held if token_name == reg.holder else ''}; list the grants to see "
                "which names have one.",
                token_name=token_name,
            )
        emit(reg, ctx, reg.AccessRevoked, token_name=token_name, reason=reason)
