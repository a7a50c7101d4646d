"""Operational routes: ``/health`` (liveness), ``/ready`` (is vLLM healthy?), ``/metrics``.

``/health`` and ``/ready`` need no key, so that load balancers and orchestrators can probe.
``/metrics`` needs any valid key unless ``settings.metrics_public``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from .auth import SECURITY_DOC
from .errors import GatewayError

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Liveness: the gateway process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: the upstream vLLM server is healthy")
async def ready(request: Request) -> Response:
    state = request.app.state
    ok, detail = await state.upstream.healthy(state.settings.ready_timeout_s)
    if not ok:
        raise GatewayError(
            503, f"upstream model server is not ready ({detail})", code="upstream_unavailable"
        )
    return JSONResponse({"status": "ready"})


@router.get(
    "/metrics",
    summary="Prometheus metrics (needs a key unless made public)",
    openapi_extra=SECURITY_DOC,
)
async def metrics(request: Request) -> Response:
    state = request.app.state
    if not state.settings.metrics_public:
        record = state.auth.authenticate(request.headers.get("authorization"))
        request.state.key_name = record.name
    body, content_type = state.metrics.render()
    return Response(body, media_type=content_type)
