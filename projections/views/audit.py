"""The audit log of destructive actions (deletions, resets) and their undos, four-eyes
approvals (rule 17) and access grants (rule 13)."""

from __future__ import annotations

from collections.abc import Sequence

from projections.events import Event
from projections.store import Tx
from projections.views.base import Table, View

AUDITED = {
    "Session.Deleted": "session_deleted",
    "Session.Restored": "deletion_undone",
    "Registration.RegistrationReset": "registration_reset",
    "Registration.ResetUndone": "reset_undone",
    # Rule 17: each step of a four-eyes approval (the action itself is audited as above).
    "Approval.Requested": "approval_requested",
    "Approval.Approved": "approval_approved",
    "Approval.Rejected": "approval_rejected",
    "Approval.Expired": "approval_expired",
    # Rule 13: who may reach a registration (token_name: the worker token concerned).
    "Registration.AccessGranted": "access_granted",
    "Registration.AccessRevoked": "access_revoked",
}


class AuditView(View):
    name = "audit"
    tables = (
        Table(
            "view_audit_sessions",
            "agg_id TEXT NOT NULL, registration_id TEXT NOT NULL, session_id TEXT NOT NULL",
            ("agg_id",),
        ),
        Table(
            "view_audit",
            "position BIGINT NOT NULL, type TEXT NOT NULL, registration_id TEXT NOT NULL, "
            "session_id TEXT, actor TEXT, at BIGINT, reason TEXT, ticket TEXT, "
            "override BIGINT, undo_of BIGINT, undone_by BIGINT, correlation_id TEXT, "
            "failed_checks TEXT, token_name TEXT",
            ("position",),
            (("registration_id", "position"),),
        ),
    )

    def apply(self, tx: Tx, events: Sequence[Event]) -> None:
        sessions, audit = self.t["view_audit_sessions"], self.t["view_audit"]
        for e in events:
            s = e.state
            if e.kind == "Session.Started":
                tx.x(
                    f"INSERT INTO {sessions} VALUES (?, ?, ?)",
                    (e.originator_id, s["registration_id"], s["session_id"]),
                )
                continue
            if e.kind == "Approval.Requested":  # its later steps name only the approval
                tx.x(
                    f"INSERT INTO {sessions} VALUES (?, ?, ?)",
                    (e.originator_id, s["registration_id"], s.get("session_id") or ""),
                )
            kind = AUDITED.get(e.kind)
            if kind is None:
                continue
            if e.kind.startswith(("Session.", "Approval.")):
                row = tx.one(
                    f"SELECT registration_id, session_id FROM {sessions} WHERE agg_id = ?",
                    (e.originator_id,),
                )
                rid, sid = row if row else ("", None)
                sid = sid or None
            else:
                rid, sid = e.originator_id, None
            override = s.get("override")
            failed = s.get("failed_checks")
            tx.x(
                f"INSERT INTO {audit} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
                (
                    e.position,
                    kind,
                    rid,
                    sid,
                    e.actor,
                    e.at,
                    s.get("reason"),
                    s.get("ticket"),
                    None if override is None else int(bool(override)),
                    s.get("undo_of"),
                    s.get("correlation_id"),
                    ",".join(failed) if failed else None,
                    s.get("token_name"),
                ),
            )
            if s.get("undo_of") is not None:
                tx.x(
                    f"UPDATE {audit} SET undone_by = ? WHERE position = ?",
                    (e.position, s["undo_of"]),
                )
