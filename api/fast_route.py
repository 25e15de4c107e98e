"""A route class that answers the common request directly and hands the rest to FastAPI.

FastAPI's request handler is general: per request it parses the content type with the
e-mail package, inspects every parameter's annotation again (param models, aliases,
sequences), solves the dependency graph with a cache and two exit stacks, and extracts
telemetry context. For a small read or write that was a fifth of the API process's time
(py-spy, docs/architecture.md "Small requests"); `GET /v1/health`, which has one dependency
and no parameters, paid little of it, so every other call fell behind it.

`FastRoute` keeps the route exactly as FastAPI built it - the same dependant, the same
OpenAPI document - and adds a plan computed once: which dependencies (only the app's own,
`get_services` and `RoleBearer`), which path and query parameters (plain scalars), which
body (one model, not embedded). A request then runs the plan with the same validators
(each parameter's own `ModelField.validate`, the body parsed by the same `json.loads`) in
the same order as FastAPI (body read, dependencies, path, query, body validation). Anything
the plan does not cover, and every request that would fail validation, goes to FastAPI's
own handler, so errors keep their exact bodies; a dependency's exception (401, 403, 404)
propagates as it does there. tests/api/test_fast_route.py checks both paths answer alike.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from fastapi._body_limit import get_body_limit_error
from fastapi._compat import field_annotation_is_sequence
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import (
    _is_async_gen_callable,
    _is_coroutine_callable,
    _is_gen_callable,
)
from fastapi.dependencies.utils import _get_param_aliases, _get_param_model, _is_json_field
from fastapi.routing import (
    APIRoute,
    _effective_route_context_var,
    _extract_endpoint_context,
    serialize_response,
)
from fastapi.telemetry import get_telemetry_data
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.requests import Request
from starlette.responses import Response

from api import inline
from api.dependencies import RoleBearer, get_services
from api.inline import is_inline

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
CONSTANTS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Param:
    name: str
    alias: str
    field: Any  # fastapi's ModelField
    required: bool
    default: Any


@dataclass(frozen=True)
class Plan:
    route: Any  # the APIRoute or the effective route of an included router
    call: Callable[..., Any]
    is_coroutine: bool
    # (parameter name or None for a router's `dependencies=[...]`, the dependency's callable)
    dependencies: tuple[tuple[str | None, Any], ...]
    path: tuple[Param, ...]
    query: tuple[Param, ...]
    body: Any  # ModelField of the one body model, or None
    body_name: str
    request_name: str | None
    use_dump_json: bool
    inline: bool  # may run on the event loop (api/inline.py)


class FastRoute(APIRoute):
    """An APIRoute whose handler tries the plan first (module docstring)."""

    enabled = True  # tests switch plans off to compare the two handlers' answers
    fast_answers = 0  # requests answered by a plan, for tests (not a metric)

    def get_route_handler(self) -> Handler:
        stock = super().get_route_handler()
        route: Any = self
        context = _effective_route_context_var.get()
        if context is not None and context.original_route is self:
            route = context  # the route as its router includes it (prefix, dependencies)
        plan = plan_for(route)
        if plan is None:
            return stock

        async def handler(request: Request) -> Response:
            answer = await run(plan, request) if FastRoute.enabled else None
            if answer is None:
                return await stock(request)
            FastRoute.fast_answers += 1
            return answer

        return handler


def plan_for(route: Any) -> Plan | None:
    """The plan of a route, or None when FastAPI's handler must answer all its requests."""
    dependant = route.dependant
    call = dependant.call
    if (
        call is None
        or dependant.header_params
        or dependant.cookie_params
        or dependant.http_connection_param_name
        or dependant.websocket_param_name
        or dependant.background_tasks_param_name
        or dependant.response_param_name
        or dependant.security_scopes_param_name
        or getattr(route, "stream_item_field", None) is not None
        or _is_gen_callable(call)
        or _is_async_gen_callable(call)
    ):
        return None
    dependencies = []
    for sub in dependant.dependencies:
        known = sub.call is get_services or isinstance(sub.call, RoleBearer)
        if not known or sub.dependencies:
            return None
        dependencies.append((sub.name, sub.call))
    path = _params(dependant.path_params)
    query = _params(dependant.query_params)
    if path is None or query is None:
        return None
    body = None
    if dependant.body_params:
        if len(dependant.body_params) != 1 or route._embed_body_fields:
            return None
        body = dependant.body_params[0]
        annotation = body.field_info.annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
    return Plan(
        route=route,
        call=call,
        is_coroutine=_is_coroutine_callable(call),
        dependencies=tuple(dependencies),
        path=path,
        query=query,
        body=body,
        body_name=body.name if body is not None else "",
        request_name=dependant.request_param_name,
        use_dump_json=route.response_field is not None
        and isinstance(route.response_class, DefaultPlaceholder),
        inline=is_inline(call),
    )


def _params(fields: list[Any]) -> tuple[Param, ...] | None:
    """Parameters read as one value under one name with a constant default, else None
    (sequences, JSON-typed values and parameter models take FastAPI's other branches)."""
    out = []
    for field in fields:
        aliases = _get_param_aliases(field)
        info = field.field_info
        if (
            len(aliases) != 1
            or field_annotation_is_sequence(info.annotation)
            or _is_json_field(field)
            or _get_param_model(field) is not None
            or info.validate_default
        ):
            return None
        required = info.is_required()
        default = None if required else info.default
        if not isinstance(default, CONSTANTS):
            return None
        out.append(Param(field.name, aliases[0][1], field, required, default))
    return tuple(out)


async def run(plan: Plan, request: Request) -> Response | None:
    """The route's answer, or None: FastAPI's handler must answer this request."""
    if get_telemetry_data() is not None:
        return None  # FastAPI records telemetry for the request; its handler does that
    provider = plan.route.dependency_overrides_provider
    if provider is not None and getattr(provider, "dependency_overrides", None):
        return None  # overridden dependencies (tests' way to stub one): FastAPI resolves them
    body: Any = None
    if plan.body is not None:
        try:
            raw = await request.body()
        except HTTPException:
            raise
        except Exception as exc:  # as FastAPI answers a body it could not read
            if MAX_BODY_SIZE_SCOPE_KEY in request.scope and (error := get_body_limit_error(exc)):
                raise error from exc
            raise HTTPException(400, "There was an error parsing the body") from exc
        content_type = request.headers.get("content-type", "")
        if not raw or content_type.partition(";")[0].strip().lower() != "application/json":
            return None
        try:
            # FastAPI's own parser (Request.json): orjson reads integers past 64 bits as
            # floats, which a lax int field would then accept as a different number.
            body = json.loads(raw)
        except (ValueError, RecursionError):  # FastAPI's handler says what was wrong
            return None
    values: dict[str, Any] = {}
    solved: dict[int, Any] = {}  # FastAPI runs a dependency used twice once per request
    for name, dependency in plan.dependencies:
        if id(dependency) not in solved:
            # A dependency's exception (401, 403, 404) propagates, as from FastAPI's handler.
            solved[id(dependency)] = await dependency(request)
        if name is not None:
            values[name] = solved[id(dependency)]
    if not _take(plan.path, request.path_params, "path", values):
        return None
    if not _take(plan.query, request.query_params, "query", values):
        return None
    if plan.body is not None:
        value, errors = plan.body.validate(body, values, loc=("body",))
        if errors:
            return None
        values[plan.body_name] = value
    if plan.request_name:
        values[plan.request_name] = request
    if plan.is_coroutine:
        raw_response = await plan.call(**values)
    elif plan.inline:
        raw_response = await inline.call(plan.call, request.app.state.services, values)
    else:
        raw_response = await run_in_threadpool(plan.call, **values)
    if isinstance(raw_response, Response):
        return raw_response
    return await _serialize(plan, request, raw_response)


def _take(params: tuple[Param, ...], received: Any, where: str, values: dict[str, Any]) -> bool:
    """Put each parameter's value into `values`; False when one is missing or invalid (then
    FastAPI's handler answers, with its own error)."""
    for param in params:
        raw = received.get(param.alias)
        if raw is None:
            if param.required:
                return False
            values[param.name] = copy.deepcopy(param.default)  # as FastAPI does
            continue
        value, errors = param.field.validate(raw, values, loc=(where, param.alias))
        if errors:
            return False
        values[param.name] = value
    return True


async def _serialize(plan: Plan, request: Request, content: Any) -> Response:
    """What FastAPI does with a returned value: validate and dump it with the response
    model (serialize_response), then wrap it in the route's response class."""
    route = plan.route
    context = dict(_extract_endpoint_context(plan.call))
    if route.dependant.path:
        mount_path = request.scope.get("root_path", "").rstrip("/")
        context["path"] = f"{request.method} {mount_path}{route.dependant.path}"
    dumped = await serialize_response(
        field=route.response_field,
        response_content=content,
        include=route.response_model_include,
        exclude=route.response_model_exclude,
        by_alias=route.response_model_by_alias,
        exclude_unset=route.response_model_exclude_unset,
        exclude_defaults=route.response_model_exclude_defaults,
        exclude_none=route.response_model_exclude_none,
        is_coroutine=plan.is_coroutine,
        endpoint_ctx=context,  # type: ignore[arg-type]
        dump_json=plan.use_dump_json,
    )
    args: dict[str, Any] = {"background": None}
    if route.status_code:
        args["status_code"] = route.status_code
    if plan.use_dump_json:
        response = Response(content=dumped, media_type="application/json", **args)
    else:
        response_class = route.response_class
        if isinstance(response_class, DefaultPlaceholder):
            response_class = response_class.value
        response = response_class(dumped, **args)
    if not is_body_allowed_for_status_code(response.status_code):
        response.body = b""
    return response
