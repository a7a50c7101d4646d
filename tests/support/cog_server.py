"""The Cog predictor (predict.py) under coglet's HTTP server, as `make cog` runs it.

The OpenAPI schema is written first from the predictor (`gateway.predictor.openapi`), as
Cog's CLI does at build time, so coglet validates inputs as it does in a Replicate image.

    server = start_predictor(engine_url, tmp_dir, GATEWAY_ALLOW_PRIVATE_FETCH="true")
    httpx.post(server.base_url + "/predictions", json={"input": {...}})
    server.stop()
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx

from gateway.predictor.openapi import write_schema
from tests.support.gateway_server import Proc
from tests.support.procs import REPO, free_port, spawn, stop_process, tail

__all__ = ["predictor_env", "start_predictor", "wait_ready"]


def predictor_env(port: int, engine_url: str, **overrides: str) -> dict[str, str]:
    """This environment without GATEWAY_*/COG_* variables, plus the server's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "COG_"))}
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
            "PORT": str(port),
            "COG_PREDICT_TYPE_STUB": "predict.py:Predictor",
            "COG_ENGINE_URL": engine_url,
            "PYTHONPATH": str(REPO),
        }
    )
    env.update(overrides)
    return env


def wait_ready(base_url: str, proc: object, log: Path, timeout: float) -> None:
    """Until /health-check says READY; a failed setup or an exit fails with the log's end."""
    deadline = time.monotonic() + timeout
    status = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:  # type: ignore[attr-defined]
            raise RuntimeError(f"the Cog server exited during setup:\n{tail(log)}")
        try:
            status = httpx.get(base_url + "/health-check", timeout=5).json().get("status", "")
        except (httpx.HTTPError, ValueError):
            status = "no answer"
        if status == "READY":
            return
        if status in ("SETUP_FAILED", "DEFUNCT"):
            raise RuntimeError(f"the Cog server reports {status}:\n{tail(log)}")
        time.sleep(0.3)
    raise RuntimeError(f"the Cog server was not READY in {timeout:g} s ({status}):\n{tail(log)}")


def start_predictor(engine_url: str, work_dir: Path, **env_overrides: str) -> Proc:
    """``python -m cog.server.http`` on a free loopback port, attached to ``engine_url``."""
    write_schema(REPO)
    port = free_port()
    log = work_dir / f"cog-{port}.log"
    cmd = [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1"]
    proc = spawn(cmd, log, predictor_env(port, engine_url, **env_overrides))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, log, 120)
    except BaseException:
        stop_process(proc)
        raise
    return Proc(base, proc, log)
