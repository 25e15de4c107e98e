"""GET /metrics: Prometheus text format (no token: bind it to a private interface)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.metrics import CONTENT_TYPE, Metrics

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics: requests, latency, events, records, lag, sessions, webhooks",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    collector: Metrics = request.app.state.metrics
    body = await run_in_threadpool(collector.render)  # reads the database
    return Response(body, media_type=CONTENT_TYPE)
