"""Checks on a chat.completions body before it goes upstream, and the image rewrite.

The body is parsed once with the stdlib ``json``. Only what the gateway must guarantee is
checked, each failure a 400 naming the field: messages and content-part shapes, caps on
``max_tokens``/``max_completion_tokens`` and ``n``, ``mm_processor_kwargs.num_crops``, and the
number of images (422). Everything else (temperature, response_format, structured_outputs,
tools, the model name...) passes through for vLLM to validate.

    payload = parse_json_object(raw)
    parts = check_chat_request(payload, settings)        # image parts, with their param
    if parts and await rewrite_images(parts, settings, fetch_client):
        raw = dump_json(payload)                          # only when something changed
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx

from .errors import GatewayError
from .images import ValidImage, validate_image
from .schema_guard import check_user_schemas
from .settings import Settings

__all__ = [
    "ImagePart",
    "parse_json_object",
    "dump_json",
    "check_chat_request",
    "rewrite_images",
    "ROLES",
]

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_PART_TYPES = ("text", "image_url")


@dataclass(slots=True)
class ImagePart:
    """An ``image_url`` content part (the dict inside the body) and its param path; after
    ``rewrite_images``, the first part also has the sha256 of its bytes (the routing key)."""

    param: str
    holder: dict[str, Any]
    digest: bytes | None = None


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Parse the body; 400 naming the problem (and where) if it is not a JSON object."""
    if not raw:
        raise GatewayError(
            400, "request body is empty; expected a JSON object", code="invalid_json"
        )
    try:
        payload = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise GatewayError(
            400, f"request body is not UTF-8: {exc.reason}", code="invalid_json"
        ) from exc
    except json.JSONDecodeError as exc:
        raise GatewayError(
            400,
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            code="invalid_json",
        ) from exc
    if not isinstance(payload, dict):
        raise GatewayError(400, "request body must be a JSON object", code="invalid_json")
    return payload


def dump_json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _bad(param: str, message: str) -> GatewayError:
    return GatewayError(400, f"{param}: {message}", param=param, code="invalid_value")


def _int_in(payload: dict[str, Any], name: str, low: int, high: int, param: str) -> None:
    value = payload.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(param, "must be an integer")
    if not low <= value <= high:
        raise _bad(param, f"must be between {low} and {high}, got {value}")


def check_chat_request(payload: dict[str, Any], settings: Settings) -> list[ImagePart]:
    """Validate the shape the gateway relies on; return the image parts found."""
    for name in ("max_tokens", "max_completion_tokens"):
        _int_in(payload, name, 1, settings.max_tokens_cap, name)
    _int_in(payload, "n", 1, settings.max_n, "n")
    if "stream" in payload and not isinstance(payload["stream"], bool | None):
        raise _bad("stream", "must be a boolean")
    mm = payload.get("mm_processor_kwargs")
    if mm is not None:
        if not isinstance(mm, dict):
            raise _bad("mm_processor_kwargs", "must be an object")
        _int_in(
            mm,
            "num_crops",
            settings.num_crops_min,
            settings.num_crops_max,
            "mm_processor_kwargs.num_crops",
        )
    check_user_schemas(payload, settings)
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages", "must be a non-empty list")
    images: list[ImagePart] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _bad(where, "must be an object")
        role = message.get("role")
        if role not in ROLES:
            raise _bad(f"{where}.role", f"must be one of {', '.join(sorted(ROLES))}")
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise _bad(f"{where}.content", "must be a string or a list of content parts")
        for j, part in enumerate(content):
            _check_part(part, f"{where}.content[{j}]", images)
    if len(images) > settings.max_images_per_request:
        first_over = images[settings.max_images_per_request]
        raise GatewayError(
            422,
            f"too many images: {len(images)} in this request, at most "
            f"{settings.max_images_per_request} allowed ({first_over.param} is over the limit)",
            param=first_over.param,
            code="too_many_images",
        )
    return images


def _check_part(part: Any, where: str, images: list[ImagePart]) -> None:
    if not isinstance(part, dict):
        raise _bad(where, "must be an object")
    kind = part.get("type")
    if kind == "text":
        if not isinstance(part.get("text"), str):
            raise _bad(f"{where}.text", "must be a string")
    elif kind == "image_url":
        holder = part.get("image_url")
        if not isinstance(holder, dict) or not isinstance(holder.get("url"), str):
            raise _bad(f"{where}.image_url", "must be an object with a string 'url'")
        images.append(ImagePart(f"{where}.image_url", holder))
    else:
        raise _bad(f"{where}.type", f"must be one of {', '.join(_PART_TYPES)}, got {kind!r}")


async def rewrite_images(
    parts: list[ImagePart], settings: Settings, fetch_client: httpx.AsyncClient | None
) -> bool:
    """Replace each image URL by its validated data URL; True if any string changed.

    The parts are checked (and remote ones fetched) concurrently, so a request with several
    remote images waits for the slowest fetch, not their sum. If several fail, the error
    names the first failing part in message order, whatever finished first. The first
    part's ``digest`` is set on the way: requests are routed by their first image.
    """
    outcomes = await asyncio.gather(
        *(
            validate_image(
                part.holder["url"], settings, fetch_client, param=part.param, digest=i == 0
            )
            for i, part in enumerate(parts)
        ),
        return_exceptions=True,
    )
    valid: list[ValidImage] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        valid.append(outcome)
    changed = False
    for part, checked in zip(parts, valid, strict=True):
        part.digest = checked.digest
        if checked.url is not part.holder["url"]:
            part.holder["url"] = checked.url
            changed = True
    return changed
