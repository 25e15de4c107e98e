"""Request bodies: every limit comes from domain/values.py and shows in the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from domain.values import (
    MAX_BATCH_RECORDS,
    MAX_DIGEST_LENGTH,
    MAX_ENTITY_TYPE_LENGTH,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_TEXT_LENGTH,
)

MAX_ENTITY_TYPES = 100
MAX_MINUTES = 525_600


def _clean(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


Clean = AfterValidator(_clean)
# String types with their limits in the schema and no characters storage can't keep.
Product = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH), Clean]
FileId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_LENGTH), Clean]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH), Clean]
SyncType = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ENTITY_TYPE_LENGTH), Clean]
EntityType = SyncType
Key = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY_LENGTH), Clean]
Digest = Annotated[str, StringConstraints(min_length=1, max_length=MAX_DIGEST_LENGTH), Clean]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_LENGTH), Clean]
Ticket = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH), Clean]
Confirmation = Annotated[str, StringConstraints(max_length=MAX_TEXT_LENGTH), Clean]
Minutes = Annotated[int, Field(ge=1, le=MAX_MINUTES, strict=True)]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RegistrationIn(Body):
    product: Product = Field(description="The sync agent's product, e.g. accountlink-quickbooks")
    file_id: FileId = Field(description="The source file the agent syncs")
    name: Name | None = None
    sync_interval_minutes: Minutes = 30
    stuck_after_minutes: Minutes = 120


class SessionIn(Body):
    session_id: UUID | None = Field(
        None, description="Client-chosen id: starting the same session_id again is a no-op"
    )
    sync_type: SyncType = Field(description="time, custom, periodic, full, … (free text)")
    worker: Name | None = Field(None, description="The server the agent runs on")
    entity_types: list[EntityType] = Field(default_factory=list, max_length=MAX_ENTITY_TYPES)
    request_id: UUID | None = Field(None, description="The pending sync request this fulfils")


class RecordIn(Body):
    entity_type: EntityType
    key: Key
    digest: Digest


class BatchIn(Body):
    batch_id: Key | None = Field(
        None, description="Re-sending the same batch_id records nothing new"
    )
    records: list[RecordIn] = Field(min_length=1, max_length=MAX_BATCH_RECORDS)


class DiffIn(Body):
    records: list[RecordIn] = Field(max_length=MAX_BATCH_RECORDS)


class ErrorIn(Body):
    message: Reason
    entity_type: EntityType | None = None
    key: Key | None = None


class CompleteIn(Body):
    pass


class FailIn(Body):
    reason: Reason


class DeleteIn(Body):
    reason: Reason
    override: bool = False
    ticket: Ticket | None = Field(None, description="Required with override")
    dry_run: bool = False


class ResetIn(Body):
    reason: Reason
    confirm_file_id: Confirmation = Field(description="The registration's file_id, typed back")


class SyncRequestIn(Body):
    kind: Literal["periodic", "full"]
    confirm: bool = False


class SyncRequestCancelIn(Body):
    reason: Reason


class UndoIn(Body):
    reason: Reason
