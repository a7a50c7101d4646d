"""Vet user-supplied JSON schemas before vLLM compiles them.

Shared by every route that takes a user schema: chat's ``response_format``, the Responses
API's ``text.format``, and a forced function call's ``parameters`` (``chat.tools``).

vLLM compiles a guided-decoding grammar with no time limit, and xgrammar rejects or silently
ignores some keywords (``multipleOf``, ``uniqueItems``, ``patternProperties`` …). A schema
that is too large, too deep or uses such a keyword is refused here with a 400 that names the
keyword or the limit, so it can neither stall the engine nor be half-enforced.
"""

from __future__ import annotations

import json
from typing import Any

from schemas import find_unsupported_keywords, schema_depth

from .errors import ErrorCode, GatewayError
from .settings import Settings

__all__ = ["check_user_schemas", "check_schema"]


def check_user_schemas(payload: dict[str, Any], settings: Settings) -> None:
    """Check ``response_format.json_schema.schema`` (chat), ``text.format.schema`` (the
    Responses API's format) and ``structured_outputs.json``."""
    fmt = payload.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        _check_holder(fmt.get("json_schema"), "response_format.json_schema.schema", settings)
    text = payload.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        _check_holder(fmt, "text.format.schema", settings)
    outputs = payload.get("structured_outputs")
    if isinstance(outputs, dict) and isinstance(outputs.get("json"), dict):
        check_schema(outputs["json"], "structured_outputs.json", settings)


def _check_holder(holder: Any, param: str, settings: Settings) -> None:
    """A json_schema format must carry its schema, and the schema must pass."""
    schema = holder.get("schema") if isinstance(holder, dict) else None
    if not isinstance(schema, dict):
        raise GatewayError(
            400,
            f"{param} must be a JSON Schema object",
            param=param,
            code=ErrorCode.SCHEMA_INVALID,
        )
    check_schema(schema, param, settings)


def check_schema(schema: dict[str, Any], param: str, settings: Settings) -> None:
    """Refuse one schema (at ``param`` in the body) that is too large, too deep or unenforceable."""
    size = len(json.dumps(schema, separators=(",", ":")))
    if size > settings.max_schema_bytes:
        raise GatewayError(
            400,
            f"the JSON schema is {size} bytes; the limit is {settings.max_schema_bytes}",
            param=param,
            code=ErrorCode.SCHEMA_TOO_LARGE,
        )
    depth = schema_depth(schema)
    if depth > settings.max_schema_depth:
        raise GatewayError(
            400,
            f"the JSON schema nests {depth} levels deep; the limit is {settings.max_schema_depth}",
            param=param,
            code=ErrorCode.SCHEMA_TOO_DEEP,
        )
    unsupported = find_unsupported_keywords(schema)
    if unsupported:
        shown = "; ".join(unsupported[:5]) + ("; …" if len(unsupported) > 5 else "")
        raise GatewayError(
            400,
            f"the JSON schema uses keywords guided decoding cannot enforce: {shown}",
            param=param,
            code=ErrorCode.SCHEMA_UNSUPPORTED_KEYWORD,
        )
