"""Validation of a chat.completions body before it goes upstream.

(Request validation, not to be confused with ``schemas.checks``, which check the *data*
an extraction read.)

Only what the gateway must guarantee is checked, each failure a 400 naming the field:
messages and content-part shapes, the caps every model call obeys (``caps.check_generation``:
``max_tokens``, ``max_completion_tokens``, ``n``, ``stream``,
``mm_processor_kwargs.num_crops``), user JSON schemas (``schema_guard``) and the number of
images (422). ``tools`` are ``tools.py``'s. Everything else (temperature, response_format,
structured_outputs, the model name...) passes through for vLLM to validate.

    payload = parse_json_object(raw)
    parts = validate_chat_request(payload, settings)        # image parts, with their param
    if parts and await rewrite_images(payload, parts, settings, fetch_client, slots):
        raw = dump_json(payload)                          # only when something changed
"""

from __future__ import annotations

from typing import Any

from ..caps import bad_value, check_generation
from ..images import ImagePart, check_image_count, image_detail
from ..schema_guard import check_user_schemas
from ..settings import Settings

__all__ = ["validate_chat_request", "ROLES"]

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_PART_TYPES = ("text", "image_url")


def validate_chat_request(payload: dict[str, Any], settings: Settings) -> list[ImagePart]:
    """Validate the shape the gateway relies on; return the image parts found."""
    check_generation(payload, settings, ("max_tokens", "max_completion_tokens"))
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
        if not isinstance(role, str) or role not in ROLES:
            raise bad_value(f"{where}.role", f"must be one of {', '.join(sorted(ROLES))}")
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise bad_value(f"{where}.content", "must be a string or a list of content parts")
        for j, part in enumerate(content):
            _check_part(part, f"{where}.content[{j}]", images)
    check_image_count(images, settings)
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
        param = f"{where}.image_url"
        images.append(ImagePart(param, holder, image_detail(holder, param)))
    else:
        raise bad_value(f"{where}.type", f"must be one of {', '.join(_PART_TYPES)}, got {kind!r}")
