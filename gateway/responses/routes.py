"""``POST /v1/responses``: the OpenAI Responses API, checked like chat and served by vLLM.

A plain Starlette route like chat's (same reasons: no dependency solving on a generating
route), so its OpenAPI entry is ``OPENAPI_PATHS``, which ``app`` merges into the document (the body
typed by ``protocol.ResponsesRequest``, for the document only). The
body is always re-encoded: ``store`` is forced to false (``validation``). A stream is relayed until
vLLM's terminal ``response.*`` event (``upstream.relay.RESPONSES_END``); it has no ``[DONE]``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..auth import admit
from ..bodies import parse_json_body, read_body
from ..openapi import generating_operation
from ..record import record_of
from ..upstream.relay import RESPONSES_END
from .prepare import prepare_responses
from .protocol import ResponsesRequest

__all__ = ["router", "OPENAPI_PATHS"]

router = APIRouter(tags=["openai"])

OPENAPI_PATHS: dict[str, Any] = generating_operation(
    "/v1/responses",
    "create_response_v1_responses_post",
    "Create a response (OpenAI Responses API), images and streaming included; stateless: "
    "store is forced to false, previous_response_id and background are refused",
    ResponsesRequest,
    "A response object; with stream=true, an event stream of response.* events ending with "
    "response.completed (or .incomplete).",
)


async def create_response(request: Request) -> Response:
    await admit(request, "chat")
    state = request.app.state
    settings = state.settings
    raw = await read_body(request, settings.max_body_bytes)
    payload = await parse_json_body(raw, settings.json_steps_threshold_bytes)
    call = await prepare_responses(payload, settings, state.fetch_client, state.decode_slots)
    return await state.upstream.chat(
        call.raw,
        record_of(request),
        "/v1/responses",
        call.stream,
        call.affinity,
        post="/v1/responses",
        end=RESPONSES_END,
    )


router.add_route("/v1/responses", create_response, methods=["POST"])
