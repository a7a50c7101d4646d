"""Operational routes: ``/health`` (liveness), ``/ready`` (is a vLLM replica healthy? each
replica's state is listed), ``/metrics``.

``/health`` and ``/ready`` need no key, so that load balancers and orchestrators can probe.
``/metrics`` needs any valid key unless ``settings.metrics_public``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import JSONResponse, Response

from .auth import SECURITY_DOC
from .errors import ErrorCode, GatewayError
from .openapi import error_responses
from .record import record_of
from .upstream import check_all

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Liveness: the gateway process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: at least one upstream vLLM replica is healthy",
    responses=error_responses(503),
)
async def ready(request: Request) -> Response:
    """Polls every replica now (which also counts as a health check) and lists each one:
    ``healthy`` is this poll, ``up`` whether it is in rotation (see ``gateway.upstream.health``)."""
    state = request.app.state
    settings = state.settings
    upstream = state.upstream
    polls = await check_all(upstream, settings.ready_timeout_s, settings.health_failure_threshold)
    replicas = upstream.replicas.describe()
    for replica, ok in zip(replicas, polls, strict=True):
        replica["healthy"] = ok
    if not any(polls):
        detail = "; ".join(f"{r['url']}: {r['detail']}" for r in replicas)
        raise GatewayError(
            503,
            f"upstream model server is not ready ({detail})",
            code=ErrorCode.UPSTREAM_UNAVAILABLE,
        )
    return JSONResponse({"status": "ready", "replicas": replicas})


@router.get(
    "/metrics",
    summary="Prometheus metrics (needs a key unless made public)",
    openapi_extra=SECURITY_DOC,
    response_class=Response,
    responses={
        200: {
            "description": "The Prometheus text exposition format.",
            "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
        },
        **error_responses(401, 503),  # 503: the key store is unreachable
    },
)
async def metrics(request: Request) -> Response:
    state = request.app.state
    if not state.settings.metrics_public:
        record = await state.auth.authenticate(request.headers.get("authorization"))
        record_of(request).key_name = record.name
    body, content_type = state.metrics.render()
    return Response(body, media_type=content_type)
