"""Issue 11, beyond the findings: hypothesis fuzz of the two hand-written parsers a client's
bytes meet — the records batch parser (api/batches.py) and the event transcoder
(domain/infra/transcoder.py), with the Ledger's own checks in front of it. Whatever comes in
is either refused as a validation error or read back exactly; nothing else escapes."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from fastapi.exceptions import RequestValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.batches import parse_batch
from domain import Context, Ledger
from domain.errors import ValidationFailed
from domain.infra.database import Database
from domain.infra.transcoder import OrjsonTranscoder
from domain.validation import text_problem
from domain.values import MAX_DIGEST_LENGTH, MAX_ENTITY_TYPE_LENGTH, MAX_KEY_LENGTH

# Text a client can send: any code point (surrogates, NUL, controls, four-byte characters),
# whitespace alone, marker words of the transcoder, long runs at the limits.
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=20)
HOSTILE = st.sampled_from(
    ["", " ", "\t\n", "\x00", "\ud800", "_type_", "_data_", "dict_escaped", "=1+1", "\U0001f600"]
)
LONG = st.builds(
    lambda ch, n: ch * n,
    st.sampled_from(["a", "é", "語", "\U0001f600"]),
    st.sampled_from([127, 128, 129, 383, 384, 385, 511, 512, 513]),
)
TEXT = ANY_TEXT | HOSTILE | LONG
PLAIN = st.text("abcXYZ09-_.:é語\U0001f600 ", min_size=1, max_size=12)  # mostly accepted
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
FIELD = PLAIN | PLAIN | TEXT
RECORD = st.fixed_dictionaries({"entity_type": FIELD, "key": FIELD, "digest": FIELD})
BATCH = st.fixed_dictionaries(
    {"records": st.lists(RECORD, min_size=1, max_size=4)}, optional={"batch_id": FIELD}
)
BODY = (
    BATCH
    | BATCH
    | st.fixed_dictionaries({"records": st.lists(RECORD | VALUES, max_size=4)})
    | st.dictionaries(TEXT, VALUES, max_size=3)
)


def _raw(body: Any, how: int) -> bytes:
    if how == 0:  # JSON with \u escapes: lone surrogates and NUL travel as JSON allows
        return json.dumps(body).encode()
    if how == 1:
        return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return json.dumps(body).encode()[: max(0, len(json.dumps(body)) - how)]  # cut short


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=BODY, how=st.sampled_from([0, 0, 1, 2, 7]))
def test_the_batch_parser_accepts_clean_batches_and_explains_the_rest(body: Any, how: int) -> None:
    raw = _raw(body, how)
    try:
        records, batch_id = parse_batch(raw)
    except RequestValidationError as refused:
        assert refused.errors(), raw  # a 422 that says why
        return
    except ValidationFailed as refused:  # the domain's batch check: also a 422
        assert refused.details.get("field"), raw
        return
    # Accepted: exactly what was sent, every field within rule 12, no record twice.
    sent = orjson.loads(raw)
    assert [(r["entity_type"], r["key"], r["digest"]) for r in sent["records"]] == records
    assert set(sent) <= {"records", "batch_id"} and batch_id == sent.get("batch_id")
    for entity_type, key, digest in records:
        assert text_problem(entity_type, MAX_ENTITY_TYPE_LENGTH) is None
        assert text_problem(key, MAX_KEY_LENGTH) is None
        assert text_problem(digest, MAX_DIGEST_LENGTH) is None
    assert len({(e, k) for e, k, _ in records}) == len(records)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
def test_the_batch_parser_refuses_any_bytes_as_a_validation_error(raw: bytes) -> None:
    try:
        parse_batch(raw)
    except (RequestValidationError, ValidationFailed):
        pass


@settings(max_examples=400, deadline=None)
@given(value=VALUES)
def test_the_transcoder_reads_back_what_it_writes_or_refuses_it(value: Any) -> None:
    transcoder = OrjsonTranscoder()
    try:
        data = transcoder.encode(value)
    except TypeError:
        # Only what JSON cannot carry: a lone surrogate, an integer past 64 bits.
        assert any(t in repr(value) for t in ("\\ud", "\\udc", "\\ude", "\\udf")) or any(
            isinstance(v, int) and not -(2**63) <= v < 2**64 for v in _leaves(value)
        ), value
        return
    decoded = transcoder.decode(data)
    assert orjson.dumps(decoded) == orjson.dumps(orjson.loads(orjson.dumps(value)))


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=64))
def test_the_transcoder_decodes_or_refuses_any_stored_bytes(raw: bytes) -> None:
    try:
        OrjsonTranscoder().decode(raw)
    except (ValueError, TypeError, KeyError):
        pass  # verify's Decoder reports these as "cannot be decoded"


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    return [value]


@pytest.fixture
def ledger(database: Database) -> Any:
    ledger = Ledger(database=database)
    yield ledger
    ledger.close()


def test_hostile_text_through_the_ledger_is_refused_or_stored_exactly(ledger: Ledger) -> None:
    """Every command's text through the domain checks into the transcoder and the event
    table of each backend: refused (ValidationFailed), or read back from the log as sent."""
    ctx = Context("fuzz", "fuzz-1")
    rid = ledger.register(ctx, product="p", file_id="f").registration_id

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(sync_type=TEXT, entity_type=TEXT, key=TEXT, digest=TEXT)
    def check(sync_type: str, entity_type: str, key: str, digest: str) -> None:
        try:
            sid = ledger.start_session(ctx, rid, sync_type=sync_type).session_id
        except ValidationFailed:
            sid = ledger.start_session(
                ctx, rid, sync_type=f"t{ledger.current_position()}"
            ).session_id
        try:
            ledger.record_batch(ctx, rid, sid, [(entity_type, key, digest)])
        except ValidationFailed:
            return
        finally:
            ledger.fail_session(ctx, rid, sid, reason="fuzz")
        stored = ledger.session_records(rid, sid)
        assert [(r[0], r[1], r[2]) for r in stored] == [(entity_type, key, digest)]

    check()
