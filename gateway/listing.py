"""OpenAI's list pages (``GET /v1/files``, ``/v1/batches``, ``/v1/jobs``): the ``limit`` check
and the page object, one shape for every list the SDK pages through (``after``, ``has_more``).

    check_limit(limit, 100)
    return list_page([batch_object(r) for r in rows], has_more)
"""

from __future__ import annotations

from typing import Any

from .errors import ErrorCode, GatewayError

__all__ = ["check_limit", "list_page"]


def check_limit(limit: int, most: int) -> None:
    """A 400 naming ``limit`` unless it is 1..``most``."""
    if not 1 <= limit <= most:
        raise GatewayError(
            400,
            f"limit must be between 1 and {most}",
            param="limit",
            code=ErrorCode.INVALID_VALUE,
        )


def list_page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    """``{"object": "list", "data", "first_id", "last_id", "has_more"}``."""
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
