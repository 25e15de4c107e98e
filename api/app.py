"""The FastAPI application: routers, error bodies, background projection runners."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline

from api.background import BackgroundWork
from api.batches import SCHEMA_ONLY_MODELS
from api.console import router as console_router
from api.errors import install_handlers
from api.guards import RequestGuard
from api.metrics import Metrics, RequestObserver
from api.openapi import operation_id
from api.responses import ORJSONResponse
from api.routers import (
    approvals,
    audit,
    events,
    grants,
    health,
    lifecycle,
    metrics,
    receipts,
    registrations,
    session_deletion,
    sessions,
    sync_requests,
    webhooks,
)
from api.routers import log as log_router
from api.routers import proofs as record_proofs
from api.services import build_services
from api.settings import get_settings
from domain.infra.database import Database

log = logging.getLogger("syncledger.api")

DESCRIPTION = """An event-sourced ledger of data-sync sessions.

Authenticate with `Authorization: Bearer <token>` (`syncledger tokens create NAME --role ROLE`).
Every error body is `{"error": {"code", "message", "details"}}`. Every write returns the
`position` of its last event; pass it as `min_position` to a read to read your own writes.
"""


def create_app(
    database: Database, *, start_background: bool = True, runners: str | None = None
) -> FastAPI:
    """The app. `runners`: "thread" (default) or "process" (see api/background.py)."""
    services = build_services(database)
    background = BackgroundWork(services, runners)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.services.closed:
            # The lifespan runs again (tools and tests start an app more than once): the
            # last run closed every pool at its end, so this one starts on fresh services.
            app.state.services = build_services(database)
            app.state.background = BackgroundWork(app.state.services, runners)
        services, background = app.state.services, app.state.background
        if start_background:
            background.start()
        try:
            yield
        finally:
            if start_background:
                background.stop()
            services.close()

    # Swagger UI and ReDoc from assets packaged with fastapi-offline: /docs works offline.
    app = FastAPIOffline(
        title="syncledger",
        version="0.1.0",
        description=DESCRIPTION,
        default_response_class=ORJSONResponse,
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.background = background
    app.add_middleware(RequestGuard)
    app.state.metrics = Metrics(services.webhooks, lambda: services.clock())
    # Outermost: counts every request, including refused ones, and logs it (log_json).
    app.add_middleware(RequestObserver, metrics=app.state.metrics, log_json=get_settings().log_json)
    install_handlers(app)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        """A browser pointed at the server lands on the console (the API lives under /v1)."""
        return RedirectResponse("/console", status_code=307)

    for module in (
        health,
        registrations,
        sessions,
        session_deletion,
        receipts,
        sync_requests,
        events,
        audit,
        log_router,
        record_proofs,
    ):
        app.include_router(module.router)
    for extra in (lifecycle, approvals, grants, webhooks):
        app.include_router(extra.router)
    app.include_router(metrics.router)
    _include_console(app)
    _document_schema_only_models(app)
    return app


def _document_schema_only_models(app: FastAPI) -> None:
    """Bodies parsed by hand (api/batches.py) still show their model in the OpenAPI schema."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in SCHEMA_ONLY_MODELS:
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in model_schema.pop("$defs", {}).items():
                components.setdefault(name, sub)
            components.setdefault(model.__name__, model_schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _include_console(app: FastAPI) -> None:
    """The support console (api/console)."""
    app.include_router(console_router)
