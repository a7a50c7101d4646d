"""Re-exports ``harness.gateway_stub``: it moved to a package that ships, so that the benchmarks
can use it; tests keep importing it from here."""

from harness.gateway_stub import (
    CHAT_JSON,
    RESPONSE_JSON,
    SCRIPT_LOGPROB,
    responses_stream,
    serve,
    sse_body,
)

__all__ = [
    "CHAT_JSON",
    "RESPONSE_JSON",
    "SCRIPT_LOGPROB",
    "responses_stream",
    "serve",
    "sse_body",
]
