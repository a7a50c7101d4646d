"""Checks on a chat.completions body before it goes upstream, and the image rewrite.

Only what the gateway must guarantee is checked, each failure a 400 naming the field:
messages and content-part shapes, the caps every model call obeys (``caps``: ``max_tokens``,
``max_completion_tokens``, ``mm_processor_kwargs.num_crops``), ``n``, user JSON schemas
(``schema_guard``) and the number of images (422). Everything else (temperature,
response_format, structured_outputs, tools, the model name...) passes through for vLLM to
validate.

    payload = parse_json_object(raw)
    parts = check_chat_request(payload, settings)        # image parts, with their param
    if parts and await rewrite_images(parts, settings, fetch_client):
        raw = dump_json(payload)                          # only when something changed
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from ..caps import bad_value, check_int, check_max_tokens, check_num_crops
from ..errors import ErrorCode, GatewayError
from ..images import ValidImage, validate_image
from ..settings import Settings
from .schema_guard import check_user_schemas

__all__ = ["ImagePart", "check_chat_request", "rewrite_images", "ROLES"]

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_PART_TYPES = ("text", "image_url")


@dataclass(slots=True)
class ImagePart:
    """An ``image_url`` content part (the dict inside the body) and its param path; after
    ``rewrite_images``, the first part also has the sha256 of its bytes (the routing key)."""

    param: str
    holder: dict[str, Any]
    digest: bytes | None = None


def check_chat_request(payload: dict[str, Any], settings: Settings) -> list[ImagePart]:
    """Validate the shape the gateway relies on; return the image parts found."""
    for name in ("max_tokens", "max_completion_tokens"):
        check_max_tokens(payload.get(name), settings, name)
    check_int(payload.get("n"), 1, settings.max_n, "n")
    if "stream" in payload and not isinstance(payload["stream"], bool | None):
        raise bad_value("stream", "must be a boolean")
    mm = payload.get("mm_processor_kwargs")
    if mm is not None:
        if not isinstance(mm, dict):
            raise bad_value("mm_processor_kwargs", "must be an object")
        check_num_crops(mm.get("num_crops"), settings, "mm_processor_kwargs.num_crops")
    check_user_schemas(payload, settings)
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_value("messages", "must be a non-empty list")
    images: list[ImagePart] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise bad_value(where, "must be an object")
        role = message.get("role")
        if role not in ROLES:
            raise bad_value(f"{where}.role", f"must be one of {', '.join(sorted(ROLES))}")
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise bad_value(f"{where}.content", "must be a string or a list of content parts")
        for j, part in enumerate(content):
            _check_part(part, f"{where}.content[{j}]", images)
    if len(images) > settings.max_images_per_request:
        first_over = images[settings.max_images_per_request]
        raise GatewayError(
            422,
            f"too many images: {len(images)} in this request, at most "
            f"{settings.max_images_per_request} allowed ({first_over.param} is over the limit)",
            param=first_over.param,
            code=ErrorCode.TOO_MANY_IMAGES,
        )
    return images


def _check_part(part: Any, where: str, images: list[ImagePart]) -> None:
    if not isinstance(part, dict):
        raise bad_value(where, "must be an object")
    kind = part.get("type")
    if kind == "text":
        if not isinstance(part.get("text"), str):
            raise bad_value(f"{where}.text", "must be a string")
    elif kind == "image_url":
        holder = part.get("image_url")
        if not isinstance(holder, dict) or not isinstance(holder.get("url"), str):
            raise bad_value(f"{where}.image_url", "must be an object with a string 'url'")
        images.append(ImagePart(f"{where}.image_url", holder))
    else:
        raise bad_value(f"{where}.type", f"must be one of {', '.join(_PART_TYPES)}, got {kind!r}")


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
