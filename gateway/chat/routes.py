"""The OpenAI chat routes: ``POST /v1/chat/completions`` and ``GET /v1/models`` (the
Responses API is ``gateway.responses``). No other vLLM route is exposed.

The body is read with a byte cap (413), parsed once (``bodies``), then made ready by
``prepare.prepare_chat`` (the step batch lines share): validated
(``validation.validate_chat_request``), its image URLs replaced by validated data URLs, and
forwarded to the replica that the first image's digest picks (``upstream.replicas``;
text-only requests: the least-loaded replica). The original bytes go upstream untouched
unless the body had to change: an image URL, or a forced function call turned into guided
decoding (``tools``). Failures are raised as ``GatewayError``; the error handlers record
and answer them.

``chat.completions`` is the hot path, so it is a plain Starlette route: FastAPI's dependency
solving and response handling cost about a tenth of the gateway's time per request there
(profiled with py-spy at 16 in flight). FastAPI documents only its own routes, so this one's
OpenAPI entry is ``OPENAPI_PATHS``, which ``app`` merges into the document; its body is typed
by ``protocol.ChatCompletionRequest``, which documents and is never built here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..auth import ChatKey, admit
from ..bodies import parse_json_body, read_body
from ..openapi import KEYED, UPSTREAM, error_responses, generating_operation
from ..record import record_of
from .prepare import prepare_chat
from .protocol import ChatCompletionRequest

__all__ = ["router", "OPENAPI_PATHS"]

router = APIRouter(tags=["openai"])

OPENAPI_PATHS: dict[str, Any] = generating_operation(
    "/v1/chat/completions",
    "chat_completions_v1_chat_completions_post",
    "Chat completion (OpenAI-compatible), images and streaming included",
    ChatCompletionRequest,
    "A chat.completion; with stream=true, an event stream of chat.completion.chunk events "
    "ending with data: [DONE].",
)


async def chat_completions(request: Request) -> Response:
    await admit(request, "chat")
    state = request.app.state
    settings = state.settings
    raw = await read_body(request, settings.max_body_bytes)
    payload = await parse_json_body(raw, settings.json_steps_threshold_bytes)
    call = await prepare_chat(raw, payload, settings, state.fetch_client, state.decode_slots)
    record = record_of(request)
    response = await state.upstream.chat(
        call.raw, record, "/v1/chat/completions", call.stream, call.affinity
    )
    return call.forced.respond(response) if call.forced is not None else response


router.add_route("/v1/chat/completions", chat_completions, methods=["POST"])


@router.get(
    "/v1/models", summary="The served model(s)", responses=error_responses(*KEYED, *UPSTREAM)
)
async def list_models(request: Request, key: ChatKey) -> Response:
    return await request.app.state.upstream.get("/v1/models", record_of(request), "/v1/models")
