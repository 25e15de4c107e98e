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
