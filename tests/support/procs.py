"""Re-exports ``harness.procs``: it moved to a package that ships, so that the benchmarks
can use it; tests keep importing it from here."""

from harness.procs import (
    REPO,
    free_port,
    spawn,
    stop_process,
    tail,
    wait_until_healthy,
)

__all__ = [
    "REPO",
    "free_port",
    "spawn",
    "stop_process",
    "tail",
    "wait_until_healthy",
]
