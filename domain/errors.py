"""Typed domain errors. Each carries the error code of ../shared/API.md."""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """A refused command. Nothing was recorded."""

    code: str = "ledger_error"
    status: int = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(LedgerError):
    code = "not_found"
    status = 404


class ValidationFailed(LedgerError):
    code = "validation_error"
    status = 422


class SessionInProgress(LedgerError):
    code = "session_in_progress"
    status = 409


class SessionNotInProgress(LedgerError):
    code = "session_not_in_progress"
    status = 409


class UnsafeDeletion(LedgerError):
    code = "unsafe_deletion"
    status = 409


class AlreadyDeleted(LedgerError):
    code = "already_deleted"
    status = 409


class NotUndoable(LedgerError):
    code = "not_undoable"
    status = 409


class Conflict(LedgerError):
    """Optimistic-concurrency retries ran out (heavy contention on one registration)."""

    code = "conflict"
    status = 409
