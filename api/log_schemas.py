"""Response bodies of the verifiable log (/v1/log/*, receipt proofs, audit verification).

Errors use the shared body of api/openapi.py."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class CheckpointOut(BaseModel):
    origin: str = Field(description="The log's name (the signing key's name)")
    tree_size: int = Field(description="Number of events the checkpoint covers")
    root_hash: str = Field(description="RFC 9162 root hash of those events, hex")
    timestamp: str | None = Field(description="When it was signed (RFC 3339, signed too)")
    key_id: str = Field(description="Signed-note key id of the signing key, 8 hex digits")
    note: str = Field(description="The C2SP signed-note text: verify it with the public key")


class RetiredKeyOut(BaseModel):
    key_id: str
    name: str
    verifier_key: str
    retired_at: str
    endorsement: str = Field(
        description="A note naming the successor's verifier key, signed by this retired key"
    )


class PublicKeyOut(BaseModel):
    key_id: str
    name: str
    algorithm: Literal["ed25519"] = "ed25519"
    public_key: str = Field(description="The raw 32-byte Ed25519 public key, base64")
    verifier_key: str = Field(description="Signed-note verifier key: NAME+KEYID+BASE64KEY")
    retired: list[RetiredKeyOut] = Field(
        default_factory=list, description="Earlier keys, so older checkpoints stay verifiable"
    )


class LoggedEvent(BaseModel):
    """The event a leaf hashes: recompute the leaf hash from these fields."""

    position: int
    aggregate_id: str
    version: int
    topic: str
    state_b64: str = Field(description="The exact stored bytes, base64")


class InclusionProofOut(BaseModel):
    position: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str] = Field(description="RFC 9162 inclusion proof, hex, leaf upwards")
    root_hash: str
    event: LoggedEvent


class ConsistencyProofOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from")
    to: int
    path: list[str] = Field(description="RFC 9162 consistency proof, hex")
    from_root: str
    to_root: str


class RecordProofOut(BaseModel):
    """One receipt or session record, the event that recorded it, and the proof."""

    entity_type: str
    key: str
    digest: str
    position: int = Field(description="Position of the event that recorded this record")
    proof: InclusionProofOut
    checkpoint: CheckpointOut


class VerifyCheckpointOut(BaseModel):
    tree_size: int
    root_hash: str
    origin: str
    timestamp: str | None
    source: str = Field(description="file, export or database: where the checkpoint came from")
    signature: str
    root_matches: bool


class VerifyHead(BaseModel):
    position: int
    digest: str = Field(description="Root hash of the whole log as recomputed, hex")
    tree_size: int


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    head: VerifyHead
    first_bad_position: int | None
    problems: list[str]
    undecodable: list[int]
    checkpoint: VerifyCheckpointOut | None
    checks: list[str] = Field(description="What was compared, in plain words")
    limits: str = Field(description="What this verification can and cannot detect")
    cache_mismatch_position: int | None = Field(
        description="Where the stored tiles (a cache, never trusted) disagree with the events"
    )
    verified: bool = Field(
        description="True only when the events were compared with a signed checkpoint and match"
    )
    verdict: str = Field(description="One sentence: what was checked, and the outcome")


class UnsyncedRecord(BaseModel):
    entity_type: str
    key: str
    digest: str = Field(description="The digest the receipt held when it was unsynced")


class UnsyncedList(BaseModel):
    """What a session deletion or a registration reset unsynced, derived from the log alone
    (their events record only a count or a cutoff, so that no event grows with a session)."""

    kind: Literal["session_deleted", "registration_reset"]
    registration_id: UUID
    session_id: UUID | None = Field(description="session_deleted: the session deleted")
    cutoff: int | None = Field(
        description="registration_reset: the receipts of sessions up to this seq went"
    )
    total: int = Field(description="Records unsynced, on all pages")
    items: list[UnsyncedRecord] = Field(
        description="Deletion: in the order the session first synced them; reset: oldest "
        "receipt first"
    )
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: done")
    position: int = Field(description="The log position this read reflects (the action's)")
