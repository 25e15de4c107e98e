"""Bodies of the lifecycle endpoints: heartbeat, settings (rule 18), approvals (rule 17),
grants (rule 13)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.models import Registration
from api.schemas import Body, Minutes, Name, Reason


class HeartbeatIn(Body):
    pass


class HeartbeatOut(BaseModel):
    last_activity_at: str = Field(description="The session's last activity: now")
    position: int


class SettingsIn(Body):
    """Any of the settings; omitted ones stay as they are (rule 18)."""

    name: Name | None = None
    sync_interval_minutes: Minutes | None = None
    stuck_after_minutes: Minutes | None = None
    auto_remove_stuck_after_minutes: Minutes | None = Field(
        None,
        description="Self-healing (rule 16): null turns it off; at least stuck_after_minutes",
    )
    approvals_required: bool | None = Field(
        None, description="Four-eyes (rule 17) for override deletions and resets"
    )


class SettingsOut(Registration):
    changed: list[str] = Field(description="The settings this request changed (rule 18)")


class ApprovalPendingOut(BaseModel):
    approval_id: str
    status: Literal["pending"] = "pending"
    action: str
    position: int


class DecisionIn(Body):
    reason: Reason | None = None


class ApprovalOut(BaseModel):
    id: str
    action: Literal["delete", "reset"]
    registration_id: str
    session_id: str | None
    requested_by: str
    requested_at: str | None
    reason: str
    ticket: str | None
    status: Literal["pending", "approved", "rejected", "expired"]
    decided_by: str | None
    decided_at: str | None
    decision_reason: str | None = None
    expires_at: str | None
    result: dict[str, Any] | None = None
    position: int


class ApprovalList(BaseModel):
    items: list[ApprovalOut]
    next_cursor: str | None
    position: int


class GrantIn(Body):
    token_name: Name = Field(description="The worker token's name (rule 13)")
    reason: Reason | None = Field(None, description="Why (kept on the event and the audit log)")


class RevokeGrantIn(Body):
    reason: Reason | None = None


class GrantItem(BaseModel):
    registration_id: str
    token_name: str
    holder: bool = Field(description="True: the token registered it first (not a grant)")
    granted_by: str | None
    granted_at: str | None


class GrantOut(GrantItem):
    position: int


class GrantRevokedOut(BaseModel):
    registration_id: str
    token_name: str
    revoked: bool
    position: int


class GrantList(BaseModel):
    registration_id: str
    holder: str | None = Field(description="The worker token name that registered it first")
    items: list[GrantItem]
    next_cursor: str | None
    position: int
