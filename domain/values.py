"""Small immutable values shared by the domain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate

REGISTRATION_NAMESPACE = uuid5(NAMESPACE_URL, "https://syncledger/registration")

MAX_BATCH_RECORDS = 10_000
MAX_KEY_LENGTH = 512
MAX_ENTITY_TYPE_LENGTH = 128
MAX_DIGEST_LENGTH = 128
MAX_TEXT_LENGTH = 2_000
MAX_NAME_LENGTH = 200
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
