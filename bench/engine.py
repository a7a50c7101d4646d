"""One vLLM CPU engine for a benchmark: started from a profile on a free loopback port.

The caller stops it (``engine.stop()``, by process group) in a ``finally``.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.procs import free_port
from serve.launcher import ServerProcess, health_url
from serve.profiles import EngineProfile

__all__ = ["start_engine"]


def start_engine(profile: EngineProfile, log: Path) -> tuple[ServerProcess, str]:
    """Start ``profile`` on a free port, its output appended to ``log``; return it and its URL."""
    port = free_port()
    profile = profile.with_overrides(host="127.0.0.1", port=port)
    env = {**os.environ, **profile.vllm_env()}
    engine = ServerProcess(profile.command(), env=env, name="vLLM", echo=log.open("ab"))
    engine.start()
    engine.wait_until_healthy(health_url("127.0.0.1", port), timeout=900)
    return engine, f"http://127.0.0.1:{port}"
