"""Re-exports ``harness.gateway_server``: it moved to a package that ships, so that the benchmarks
can use it; tests keep importing it from here."""

from harness.gateway_server import (
    REPO,
    STUB,
    GatewayServer,
    Proc,
    gateway_env,
    run_gateway,
    start_gateway,
    start_stub,
)

__all__ = [
    "GatewayServer",
    "Proc",
    "REPO",
    "STUB",
    "gateway_env",
    "run_gateway",
    "start_gateway",
    "start_stub",
]
