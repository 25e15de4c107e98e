"""A router that skips itself when a request's path is outside its prefix.

FastAPI tries every route of every included router in order until one matches, and each try
costs a regex match and some bookkeeping (~16k instructions, counted with callgrind): a
heartbeat, fifty routes down the list, spent a fifth of its API time finding its route. A
router whose prefix cannot match the path now answers "no match" after one regex, so a
request pays for the routers it passes, not for their routes, and the order of the routers
in api/app.py stays the order of the OpenAPI document (docs/architecture.md).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope

from api.fast_route import FastRoute

_PARAM = re.compile(r"\{[^}]+\}")


def prefix_pattern(prefix: str) -> re.Pattern[str]:
    """What every path under `prefix` starts with: its text, a segment for each `{param}`,
    then the end of the path or a slash."""
    parts = _PARAM.split(prefix)
    body = "[^/]+".join(re.escape(part) for part in parts)
    return re.compile(f"{body}(?:/|$)")


class PrefixRouter(APIRouter):
    def __init__(self, *, prefix: str, **kwargs: Any) -> None:
        # Routes answer the common request without FastAPI's general handler (api/fast_route.py).
        kwargs.setdefault("route_class", FastRoute)
        super().__init__(prefix=prefix, **kwargs)
        self._under = prefix_pattern(prefix)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("type") in ("http", "websocket") and not self._under.match(
            get_route_path(scope)
        ):
            return Match.NONE, {}
        return super().matches(scope)
