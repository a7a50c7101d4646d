"""The endpoints a batch may run, and the scope each needs (the scope of its sync route).

scope = endpoint_scope("/v1/extract/receipt")   # "extract"; 400 for anything else
"""

from __future__ import annotations

from ..errors import ErrorCode, GatewayError
from ..pipeline import lookup_schema

__all__ = ["EXTRACT_PREFIX", "FIXED_ENDPOINTS", "endpoint_scope", "is_endpoint"]

EXTRACT_PREFIX = "/v1/extract/"
FIXED_ENDPOINTS = {"/v1/chat/completions": "chat", "/v1/responses": "chat"}


def is_endpoint(url: str) -> bool:
    """Whether ``url`` is an endpoint a batch can run (the schema need not exist)."""
    if url in FIXED_ENDPOINTS:
        return True
    name = url.removeprefix(EXTRACT_PREFIX)
    return url.startswith(EXTRACT_PREFIX) and bool(name) and "/" not in name


def endpoint_scope(endpoint: str, param: str = "endpoint") -> str:
    """The scope ``endpoint`` needs; 400 naming the endpoints a batch can run, 404 for an
    unknown schema."""
    if endpoint in FIXED_ENDPOINTS:
        return FIXED_ENDPOINTS[endpoint]
    if is_endpoint(endpoint):
        lookup_schema(endpoint.removeprefix(EXTRACT_PREFIX), param=param)
        return "extract"
    raise GatewayError(
        400,
        f"{param}: must be /v1/chat/completions, /v1/responses or /v1/extract/{{schema}}, "
        f"got {endpoint!r}",
        param=param,
        code=ErrorCode.INVALID_VALUE,
    )
