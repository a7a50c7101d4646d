"""Reading request bodies: the byte cap (413) and JSON parsing (400), the same for every route.

The body is read once, as bytes, and parsed once with the stdlib ``json``; the chat route
forwards the original bytes untouched unless it had to change something. A body larger than
``GATEWAY_JSON_STEPS_THRESHOLD_BYTES`` (a photo as a data URL) is parsed in steps that let
other requests run (``jsonsteps``); a smaller one inline, which is faster for it.

    raw = await read_body(request, settings.max_body_bytes)
    payload = await parse_json_body(raw, settings.json_steps_threshold_bytes)
    raw = dump_json(payload)          # only after a change
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from .errors import ErrorCode, GatewayError
from .jsonsteps import parse_in_steps

__all__ = ["read_body", "parse_json_body", "parse_json_object", "dump_json"]


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> GatewayError:
    return GatewayError(
        413, f"request body is larger than {limit} bytes", code=ErrorCode.BODY_TOO_LARGE
    )


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Parse the body; 400 naming the problem (and where) if it is not a JSON object."""
    if not raw:
        raise _invalid("request body is empty; expected a JSON object")
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _refusal(exc) from exc
    return _object(payload)


async def parse_json_body(raw: bytes, threshold: int) -> dict[str, Any]:
    """``parse_json_object``; above ``threshold`` bytes in steps that yield to the event loop."""
    if len(raw) <= threshold:
        return parse_json_object(raw)
    try:
        payload = await parse_in_steps(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _refusal(exc) from exc
    return _object(payload)


def _refusal(exc: UnicodeDecodeError | json.JSONDecodeError) -> GatewayError:
    if isinstance(exc, UnicodeDecodeError):
        return _invalid(f"request body is not UTF-8: {exc.reason}")
    return _invalid(
        f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    )


def _object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise _invalid("request body must be a JSON object")
    return payload


def _invalid(message: str) -> GatewayError:
    return GatewayError(400, message, code=ErrorCode.INVALID_JSON)


def dump_json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
