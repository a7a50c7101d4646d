"""Validation of a ``POST /v1/responses`` body (the OpenAI Responses API) before vLLM serves it.

vLLM 0.32 serves the Responses API itself; the gateway holds it to what chat gets: the same
caps (``max_output_tokens`` under the token cap, ``mm_processor_kwargs.num_crops``), the same
schema guard on ``text.format`` (what ``client.responses.parse(text_format=Model)`` sends),
and the same image checks and rewriting: each ``input_image`` part's ``image_url`` (a data URL
or an http(s) URL) becomes a validated data URL through ``chat.rewrite_images``.

The gateway is stateless, and so is what it exposes. vLLM keeps stored responses in a dict in
each replica's memory that nothing ever empties, and a follow-up request could land on another
replica. So ``store`` is forced to false, and what needs a stored response is refused with a
400 that says why: ``previous_response_id``, ``background``, ``conversation``. ``tools`` are
refused too: this model has no tool-call format (``text.format`` is the way to typed output).

    payload = parse_json_object(raw)
    images = validate_responses_request(payload, settings)   # input_image parts, with their param
    if images: await rewrite_images(payload, images, settings, fetch_client, slots)
"""

from __future__ import annotations

from typing import Any

from ..caps import bad_value, check_generation
from ..errors import ErrorCode, GatewayError
from ..images import ImagePart, check_image_count, image_detail
from ..schema_guard import check_user_schemas
from ..settings import Settings

__all__ = ["validate_responses_request", "RESPONSE_ROLES"]

RESPONSE_ROLES = frozenset({"system", "developer", "user", "assistant"})
_PART_TYPES = ("input_text", "input_image", "output_text")
_STATEFUL = {
    "previous_response_id": "it continues a stored response",
    "background": "a background response is stored and polled",
    "conversation": "it continues a stored conversation",
}


def _unsupported(param: str, message: str) -> GatewayError:
    return GatewayError(
        400, f"{param}: {message}", param=param, code=ErrorCode.UNSUPPORTED_PARAMETER
    )


def validate_responses_request(payload: dict[str, Any], settings: Settings) -> list[ImagePart]:
    """Validate and make stateless (``store`` false) in place; return the image parts."""
    for name, why in _STATEFUL.items():
        if payload.get(name) not in (None, False):
            raise _unsupported(
                name,
                f"not supported: {why}, and this gateway is stateless (responses are not "
                "stored). Send the whole conversation in 'input' instead",
            )
    if payload.get("tools"):
        raise _unsupported(
            "tools",
            "not supported on /v1/responses: this model has no tool-call format. For typed "
            "output use text.format (client.responses.parse), or force one function on "
            "/v1/chat/completions",
        )
    check_generation(payload, settings, ("max_output_tokens",))
    check_user_schemas(payload, settings)
    if payload.get("instructions") is not None and not isinstance(payload["instructions"], str):
        raise bad_value("instructions", "must be a string")
    payload["store"] = False
    items = payload.get("input")
    if isinstance(items, str):
        return []
    if not isinstance(items, list) or not items:
        raise bad_value("input", "must be a string or a non-empty list of messages")
    images: list[ImagePart] = []
    for i, item in enumerate(items):
        _check_item(item, f"input[{i}]", images)
    check_image_count(images, settings)
    return images


def _check_item(item: Any, where: str, images: list[ImagePart]) -> None:
    if not isinstance(item, dict):
        raise bad_value(where, "must be an object")
    if item.get("type", "message") != "message":
        raise bad_value(
            f"{where}.type",
            f"only message items are supported, got {item.get('type')!r} (the gateway is "
            "stateless and this model has no tools)",
        )
    role = item.get("role")
    if not isinstance(role, str) or role not in RESPONSE_ROLES:
        raise bad_value(f"{where}.role", f"must be one of {', '.join(sorted(RESPONSE_ROLES))}")
    content = item.get("content")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise bad_value(f"{where}.content", "must be a string or a list of content parts")
    for j, part in enumerate(content):
        _check_part(part, f"{where}.content[{j}]", images)


def _check_part(part: Any, where: str, images: list[ImagePart]) -> None:
    if not isinstance(part, dict):
        raise bad_value(where, "must be an object")
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        if not isinstance(part.get("text"), str):
            raise bad_value(f"{where}.text", "must be a string")
    elif kind == "input_image":
        if part.get("file_id") is not None:
            raise _unsupported(
                f"{where}.file_id",
                "files are not supported (no Files API here); send image_url as a data URL "
                "or an http(s) URL",
            )
        if not isinstance(part.get("image_url"), str):
            raise bad_value(f"{where}.image_url", "must be a string (a data URL or an http(s) URL)")
        detail = image_detail(part, where)
        images.append(ImagePart(f"{where}.image_url", part, detail, key="image_url"))
    else:
        raise bad_value(f"{where}.type", f"must be one of {', '.join(_PART_TYPES)}, got {kind!r}")
