"""Typed domain errors. Each carries an error code of the API contract, never an HTTP status:
how a code is answered over HTTP is the API layer's business (api/errors.py)."""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """A refused command. Nothing was recorded."""

    code: str = "ledger_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(LedgerError):
    code = "not_found"


class ValidationFailed(LedgerError):
    code = "validation_error"


class SessionInProgress(LedgerError):
    code = "session_in_progress"


class SessionNotInProgress(LedgerError):
    code = "session_not_in_progress"


class UnsafeDeletion(LedgerError):
    code = "unsafe_deletion"


class AlreadyDeleted(LedgerError):
    code = "already_deleted"


class NotUndoable(LedgerError):
    code = "not_undoable"


class RequestNotPending(LedgerError):
    """Rule 14: only a pending sync request can be cancelled."""

    code = "request_not_pending"


class Conflict(LedgerError):
    """Optimistic-concurrency retries ran out (heavy contention on one registration)."""

    code = "conflict"


class ApprovalNotPending(LedgerError):
    """Rule 17: only a pending approval can be approved or rejected."""

    code = "approval_not_pending"


class OwnApproval(LedgerError):
    """Rule 17: nobody approves (or rejects) their own request."""

    code = "own_approval"


class RegistrationHeld(LedgerError):
    """Rule 13: the registration belongs to another worker token (nothing of it is said)."""

    code = "registration_held"
