"""Schemas by name, for every caller of the pipeline: a 404 that lists the known ones."""

from __future__ import annotations

from typing import Any

from schemas import SchemaSpec, UnknownSchemaError, get

from ..errors import ErrorCode, GatewayError

__all__ = ["lookup_schema"]


def lookup_schema(name: str, param: str | None = None) -> SchemaSpec[Any]:
    """The registered schema ``name``; 404 ``unknown_schema`` listing the known ones."""
    try:
        return get(name)
    except UnknownSchemaError as exc:
        raise GatewayError(404, str(exc), param=param, code=ErrorCode.UNKNOWN_SCHEMA) from None
