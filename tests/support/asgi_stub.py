"""Re-exports ``harness.asgi_stub``: it moved to a package that ships, so that the benchmarks
can use it; tests keep importing it from here."""

from harness.asgi_stub import (
    app,
    receive_body,
)

__all__ = [
    "app",
    "receive_body",
]
