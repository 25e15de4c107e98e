"""Small immutable values shared by the domain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate

REGISTRATION_NAMESPACE = uuid5(NAMESPACE_URL, "https://syncledger/registration")


class TextLimit(int):
    """A text field's limit (rule 12): `int(limit)` characters and `limit.bytes` UTF-8 bytes.

    An int, so every length check and schema constraint reads the character limit as before;
    `validation.text_problem` checks the bytes too. The byte limits keep every index row of
    the read models under PostgreSQL's B-tree limit (2,704 bytes), whatever characters fill
    the field: (product, file_id) <= 600 + 2,000 bytes; (entity_type, key) <= 512 + 1,536.
    """

    bytes: int

    def __new__(cls, chars: int, *, max_bytes: int) -> TextLimit:
        limit = super().__new__(cls, chars)
        limit.bytes = max_bytes
        return limit

    def __getnewargs_ex__(self) -> tuple[tuple[int], dict[str, int]]:  # copy and pickle
        return (int(self),), {"max_bytes": self.bytes}


MAX_BATCH_RECORDS = 10_000
MAX_KEY_LENGTH = TextLimit(512, max_bytes=1_536)
MAX_ENTITY_TYPE_LENGTH = TextLimit(128, max_bytes=512)
MAX_DIGEST_LENGTH = TextLimit(128, max_bytes=512)
MAX_TEXT_LENGTH = TextLimit(2_000, max_bytes=8_000)
MAX_FILE_ID_LENGTH = TextLimit(2_000, max_bytes=2_000)
MAX_NAME_LENGTH = TextLimit(200, max_bytes=600)
# Positions and cursor numbers: far beyond any log, and inside a signed 64-bit integer.
MAX_POSITION = 2**62
RECENT_SESSIONS_KEPT = 32

# A record as it travels in events: (entity_type, key, digest).
Record = tuple[str, str, str]


@dataclass(frozen=True)
class Context:
    """Who asked, and under which request: stamped on every event (rule 11)."""

    actor: str
    correlation_id: str = ""

    @staticmethod
    def system(actor: str = "system") -> Context:
        return Context(actor=actor, correlation_id=str(uuid4()))


def emit(aggregate: Aggregate, ctx: Context, event_class: type[Any], **state: Any) -> None:
    """Trigger an event on an aggregate, stamped with who asked and why (rule 11).

    The one place actor and correlation id are put on an event: aggregates' command methods
    call this instead of spelling the metadata out at each call.
    """
    aggregate.trigger_event(
        event_class, actor=ctx.actor, correlation_id=ctx.correlation_id, **state
    )


def registration_id(product: str, file_id: str) -> UUID:
    return uuid5(REGISTRATION_NAMESPACE, f"{product}\x1f{file_id}")


def session_aggregate_id(registration: UUID, session_id: str) -> UUID:
    return uuid5(registration, f"session:{session_id}")
