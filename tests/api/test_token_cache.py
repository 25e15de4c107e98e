"""Verified tokens are kept in memory on PostgreSQL (issue 16) and forgotten the moment a
token or a grant changes in any process: a revoked token, or a worker's revoked grant, is
refused as before. On SQLite (no cache) the same assertions hold."""

from __future__ import annotations

import uuid

from api.auth import Principal, TokenStore, hash_token
from domain.infra.database import Database


def _held(database: Database) -> str:
    if database.kind == "sqlite":
        return "api_token_registrations"
    return f'"{database.schema}".api_token_registrations'


def test_a_change_in_another_process_reaches_the_cache(database: Database) -> None:
    here, elsewhere = TokenStore(database), TokenStore(database)  # two processes' stores
    held = _held(database)
    try:
        token = here.create("agent-a", "worker")
        assert here.cache_ready(10)
        rid = str(uuid.uuid4())
        elsewhere._execute(  # a claim, as a register commits it
            f"INSERT INTO {held} (token_name, registration_id) VALUES ({{p}}, {{p}})",
            ("agent-a", rid),
        )
        first = here.verify_for(token, rid)
        assert first is not None and first[0].name == "agent-a" and first[1] is True
        if database.kind == "postgresql":
            assert here.cached(token, rid) == first  # from memory, no query
            assert here.cached(token, str(uuid.uuid4())) is None  # not known to be held
        else:
            assert here.cached(token, rid) is None  # SQLite: no cache

        # The registration is taken back from the token (a grant revoked) elsewhere.
        mark = here.change_mark()
        elsewhere._execute(f"DELETE FROM {held} WHERE token_name = {{p}}", ("agent-a",))
        assert here.await_change_notice(mark, 10)
        assert here.cached(token, rid) is None
        after = here.verify_for(token, rid)
        assert after is not None and after[1] is False

        # The token is revoked elsewhere: refused once the notice is in.
        assert here.verify(token) is not None
        mark = here.change_mark()
        assert elsewhere.revoke("agent-a")
        assert here.await_change_notice(mark, 10)
        assert here.cached(token, None) is None
        assert here.verify(token) is None
    finally:
        here.close()
        elsewhere.close()


def test_an_answer_read_before_a_notice_is_not_kept(database: Database) -> None:
    """The generation guard: what was read before a change cannot be stored after it."""
    store, other = TokenStore(database), TokenStore(database)
    try:
        token = store.create("support-a", "support")
        assert store.cache_ready(10)
        assert store.verify(token) is not None
        read_at = store.change_mark()
        assert other.revoke("support-a")
        assert store.await_change_notice(read_at, 10)
        cache = store._cache
        if cache is not None:  # PostgreSQL
            digest = hash_token(token)
            cache.put(digest, None, Principal("support-a", "support"), False, read_at)
            assert cache.get(digest, None) is None
        assert store.verify(token) is None
    finally:
        store.close()
        other.close()


def test_a_register_leaves_its_claim_in_the_cache(database: Database) -> None:
    """The claim a worker's register commits is noted in memory: the worker's next request
    on that registration is answered without a query; a change since the mark is not."""
    store = TokenStore(database)
    try:
        token = store.create("agent-b", "worker")
        assert store.cache_ready(10)
        assert store.verify(token) is not None  # the principal, as a request's auth keeps it
        rid, late = str(uuid.uuid4()), str(uuid.uuid4())
        mark = store.change_mark()
        store.claim("agent-b", rid)
        store.note_held("agent-b", rid, mark)
        store.forget_cached()  # a change after the mark (a revocation elsewhere)
        assert store.verify(token) is not None  # the principal is back in memory
        store.note_held("agent-b", late, mark)  # noted with the mark from before the change
        assert store.cached(token, late) is None
        mark = store.change_mark()
        store.note_held("agent-b", rid, mark)
        if database.kind == "postgresql":
            found = store.cached(token, rid)
            assert found is not None and found[1] is True
        else:
            assert store.cached(token, rid) is None  # SQLite: no cache
    finally:
        store.close()
