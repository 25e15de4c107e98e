"""Rule 13 from the API, the console and the command line: grant a worker token access to a
registration, take it back, list who may reach it.

Which token names exist (and their roles) is the token store's knowledge, so it is checked
here; who may reach the registration is the domain's (domain/access.py), which records the
events and, in their transaction, the worker-scope row (api/auth.py).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from api.auth import TokenStore
from domain.access import GrantChanged
from domain.errors import ValidationFailed
from domain.ledger import Ledger
from domain.values import Context


def _worker_token(tokens: TokenStore, token_name: str) -> None:
    role = tokens.role_of(token_name)
    if role is None:
        raise ValidationFailed(
            f"There is no token named {token_name!r}. Create the agent's worker token first "
            f"(syncledger tokens create {token_name} --role worker), then grant it.",
            field="token_name",
        )
    if role != "worker":
        raise ValidationFailed(
            f"{token_name!r} is a {role} token, which already reads every registration; "
            "grants are for worker tokens.",
            field="token_name",
            role=role,
        )


def grant(
    ledger: Ledger,
    tokens: TokenStore,
    ctx: Context,
    rid: UUID,
    token_name: str,
    reason: str | None = None,
) -> GrantChanged:
    """Let worker token `token_name` reach the registration, with its worker-scope row."""
    ledger.get_registration(rid)  # 404 before anything else
    _worker_token(tokens, token_name)
    row = tokens.claim_write
    return ledger.grant_access(
        ctx, rid, token_name, reason=reason, side_writes=lambda r: [row(token_name, r)]
    )


def revoke(
    ledger: Ledger,
    tokens: TokenStore,
    ctx: Context,
    rid: UUID,
    token_name: str,
    reason: str | None = None,
) -> GrantChanged:
    """Take the grant back, and the worker-scope row with it."""
    row = tokens.release_write
    changed = ledger.revoke_access(
        ctx, rid, token_name, reason=reason, side_writes=lambda r: [row(token_name, r)]
    )
    tokens.forget_cached()  # refused from the next request on (api/token_cache.py)
    return changed


def grant_item(ledger: Ledger, rid: UUID, token_name: str) -> dict[str, Any]:
    """One name's access to the registration: holder, granted (by whom, when), or neither."""
    access = ledger.access(rid)
    found = next((g for g in access.grants if g.token_name == token_name), None)
    return {
        "registration_id": str(rid),
        "token_name": token_name,
        "holder": access.holder == token_name,
        "granted_by": found.granted_by if found else None,
        "granted_at": _rfc3339(found.granted_at) if found else None,
    }


def grant_list(ledger: Ledger, rid: UUID) -> dict[str, Any]:
    access = ledger.access(rid)
    return {
        "registration_id": str(rid),
        "holder": access.holder,
        "items": [
            {
                "registration_id": str(rid),
                "token_name": g.token_name,
                "holder": False,
                "granted_by": g.granted_by,
                "granted_at": _rfc3339(g.granted_at),
            }
            for g in access.grants
        ],
        "next_cursor": None,
        "position": ledger.current_position(),
    }


def _rfc3339(value: str) -> str:
    return value.replace("+00:00", "Z")
