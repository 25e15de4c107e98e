"""Request bodies: every limit comes from domain/values.py and shows in the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from domain.validation import text_problem
from domain.values import (
    MAX_BATCH_RECORDS,
    MAX_DIGEST_LENGTH,
    MAX_ENTITY_TYPE_LENGTH,
    MAX_FILE_ID_LENGTH,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_TEXT_LENGTH,
    TextLimit,
)

MAX_ENTITY_TYPES = 100
MAX_MINUTES = 525_600


def bounded(limit: TextLimit, *, required: bool = True) -> AfterValidator:
    """Rule 12 beyond the schema's `maxLength`: the domain's own check of a text field
    (validation.text_problem: UTF-8 bytes, NUL, lone surrogates, whitespace alone)."""

    def check(value: str) -> str:
        if not value and not required:
            return value
        problem = text_problem(value, limit)
        if problem is not None:
            raise ValueError(f"{problem} (at most {int(limit)} characters, {limit.bytes} bytes)")
        return value

    return AfterValidator(check)


def _limits(limit: TextLimit, min_length: int = 1) -> StringConstraints:
    return StringConstraints(min_length=min_length, max_length=int(limit))


# String types with their limits in the schema and no characters storage can't keep.
Product = Annotated[str, _limits(MAX_NAME_LENGTH), bounded(MAX_NAME_LENGTH)]
FileId = Annotated[str, _limits(MAX_FILE_ID_LENGTH), bounded(MAX_FILE_ID_LENGTH)]
Name = Annotated[str, _limits(MAX_NAME_LENGTH), bounded(MAX_NAME_LENGTH)]
SyncType = Annotated[str, _limits(MAX_ENTITY_TYPE_LENGTH), bounded(MAX_ENTITY_TYPE_LENGTH)]
EntityType = SyncType
Key = Annotated[str, _limits(MAX_KEY_LENGTH), bounded(MAX_KEY_LENGTH)]
Digest = Annotated[str, _limits(MAX_DIGEST_LENGTH), bounded(MAX_DIGEST_LENGTH)]
Reason = Annotated[str, _limits(MAX_TEXT_LENGTH), bounded(MAX_TEXT_LENGTH)]
Ticket = Annotated[str, _limits(MAX_NAME_LENGTH), bounded(MAX_NAME_LENGTH)]
Confirmation = Annotated[str, _limits(MAX_TEXT_LENGTH, 0), bounded(MAX_TEXT_LENGTH, required=False)]
Minutes = Annotated[int, Field(ge=1, le=MAX_MINUTES, strict=True)]


class Body(BaseModel):
    # A field the endpoint does not know is refused (422 naming it): a typo such as
    # "wokrer" must not be silently dropped.
    model_config = ConfigDict(extra="forbid")


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
