"""Re-exports ``harness.redis_server``: it moved to a package that ships, so that the benchmarks
can use it; tests keep importing it from here."""

from harness.redis_server import (
    RedisServer,
    redis_server_bin,
)

__all__ = [
    "RedisServer",
    "redis_server_bin",
]
