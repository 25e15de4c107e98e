"""The ledger's rules: aggregates, events, the deletion policy and the Ledger service."""

from domain.errors import (
    AlreadyDeleted,
    Conflict,
    LedgerError,
    NotFound,
    NotUndoable,
    SessionInProgress,
    SessionNotInProgress,
    UnsafeDeletion,
    ValidationFailed,
)
from domain.infra.database import Database
from domain.ledger import Ledger
from domain.policy import DeletionCheck, deletion_check
from domain.registration import Registration
from domain.session import Session
from domain.values import Context, registration_id, session_aggregate_id

__all__ = [
    "AlreadyDeleted",
    "Conflict",
    "Context",
    "Database",
    "DeletionCheck",
    "Ledger",
    "LedgerError",
    "NotFound",
    "NotUndoable",
    "Registration",
    "Session",
    "SessionInProgress",
    "SessionNotInProgress",
    "UnsafeDeletion",
    "ValidationFailed",
    "deletion_check",
    "registration_id",
    "session_aggregate_id",
]
