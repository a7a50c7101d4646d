"""Re-exports ``harness.pg``: it moved to a package that ships, so that the benchmarks
can use it; tests keep importing it from here."""

from harness.pg import (
    PostgresServer,
    postgres_bin,
)

__all__ = [
    "PostgresServer",
    "postgres_bin",
]
