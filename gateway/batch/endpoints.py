"""The endpoints a batch may run, the scope each needs (the scope of its sync route), and
the schema version an extraction batch pins.

    scope, version = await resolve_endpoint("/v1/extract/receipt", schemas)  # "extract", 1
"""

from __future__ import annotations

from ..errors import ErrorCode, GatewayError
from ..pipeline import SchemaSource, find_schema

__all__ = ["EXTRACT_PREFIX", "FIXED_ENDPOINTS", "is_endpoint", "resolve_endpoint"]

EXTRACT_PREFIX = "/v1/extract/"
FIXED_ENDPOINTS = {"/v1/chat/completions": "chat", "/v1/responses": "chat"}


def is_endpoint(url: str) -> bool:
    """Whether ``url`` is an endpoint a batch can run (the schema need not exist)."""
    if url in FIXED_ENDPOINTS:
        return True
    name = url.removeprefix(EXTRACT_PREFIX)
    return url.startswith(EXTRACT_PREFIX) and bool(name) and "/" not in name


async def resolve_endpoint(
    endpoint: str, schemas: SchemaSource, param: str = "endpoint"
) -> tuple[str, int | None]:
    """The scope ``endpoint`` needs, and for an extraction the version of its schema now
    (the batch keeps it: a ``PUT`` of the schema after the batch was created does not change
    what its lines are read with). 400 naming the endpoints a batch can run; 404 for an
    unknown schema."""
    if endpoint in FIXED_ENDPOINTS:
        return FIXED_ENDPOINTS[endpoint], None
    if is_endpoint(endpoint):
        spec = await find_schema(schemas, endpoint.removeprefix(EXTRACT_PREFIX), param=param)
        return "extract", spec.version
    raise GatewayError(
        400,
        f"{param}: must be /v1/chat/completions, /v1/responses or /v1/extract/{{schema}}, "
        f"got {endpoint!r}",
        param=param,
        code=ErrorCode.INVALID_VALUE,
    )
