"""Routing: no two routes answer the same method and path (so the order of the routers in
api/app.py decides nothing but speed; a new route that shadows another fails here), and a
router that skips itself outside its prefix (api/routing.py) never skips one of its own."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute

from api.app import create_app
from domain.infra.database import Database


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        original = getattr(route, "original_router", None)
        if original is not None:
            yield from _routes(list(original.routes))
        original_route = getattr(route, "original_route", None)
        if isinstance(original_route, APIRoute):
            yield original_route


def _sample(path: str) -> str:
    """The route's path with each parameter filled the way a client fills it."""
    return re.sub(r"\{[^}]+\}", lambda _m: str(uuid.uuid4()), path)


def test_no_two_routes_answer_the_same_request(tmp_path: Any) -> None:
    app = create_app(Database.from_url(f"sqlite:///{tmp_path / 'r.db'}"), start_background=False)
    routes = {(r.path, frozenset(r.methods or ())): r for r in _routes(list(app.routes))}
    assert len(routes) > 40, "the app's routes were not found"
    clashes = []
    for (path_a, methods_a), a in routes.items():
        sample = _sample(path_a)
        for (path_b, methods_b), b in routes.items():
            if a is b or not (methods_a & methods_b) or ":path}" in path_b:
                # A catch-all ({name:path}) is last in its own router on purpose.
                continue
            if b.path_regex.match(sample):
                clashes.append(f"{sorted(methods_a & methods_b)} {path_a} also matches {path_b}")
    assert clashes == []


def test_a_prefix_router_never_skips_a_path_one_of_its_routes_answers(tmp_path: Any) -> None:
    """api/routing.py: a router answers "no match" after one regex when the path is outside
    its prefix; each of its routes, filled in as a client fills it (and with a trailing
    slash or an extra segment, which its route may refuse but the router must not), still
    gets past that check."""
    from api.routing import PrefixRouter, prefix_pattern

    app = create_app(Database.from_url(f"sqlite:///{tmp_path / 'r.db'}"), start_background=False)
    checked = 0
    for candidate in app.routes:
        router = getattr(candidate, "original_router", None)
        if not isinstance(router, PrefixRouter):
            continue
        under = prefix_pattern(router.prefix)
        for route in router.routes:
            assert isinstance(route, APIRoute)
            sample = _sample(route.path)
            for path in (sample, sample + "/", sample + "/more"):
                assert under.match(path), f"{router.prefix} would skip {path}"
            checked += 1
    assert checked > 40


def test_the_prefix_check_refuses_only_other_paths() -> None:
    from api.routing import prefix_pattern

    under = prefix_pattern("/v1/registrations/{rid}/sessions")
    assert under.match("/v1/registrations/abc/sessions")
    assert under.match("/v1/registrations/abc/sessions/x/errors")
    assert not under.match("/v1/registrations/abc/sessionsx")
    assert not under.match("/v1/registrations/abc/receipts")
    assert not under.match("/v1/registrations")
    assert prefix_pattern("/v1").match("/v1/health")
