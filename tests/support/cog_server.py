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
from typing import Any

import httpx

from gateway.predictor.openapi import write_schema
from tests.support.gateway_server import Proc
from tests.support.procs import REPO, free_port, spawn, stop_process, tail

__all__ = ["launch", "predictor_env", "start_predictor", "wait_setup"]


def predictor_env(port: int, engine_url: str | None, **overrides: str) -> dict[str, str]:
    """This environment without GATEWAY_*/COG_* variables, plus the server's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "COG_"))}
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
            "PORT": str(port),
            "COG_PREDICT_TYPE_STUB": "predict.py:Predictor",
            "PYTHONPATH": str(REPO),
        }
    )
    if engine_url is not None:
        env["COG_ENGINE_URL"] = engine_url
    env.update(overrides)
    return env


def wait_setup(base_url: str, proc: Any, log: Path, timeout: float) -> dict[str, Any]:
    """/health-check's answer once setup has ended (READY, SETUP_FAILED, …); an exit or a
    timeout fails with the log's end."""
    deadline = time.monotonic() + timeout
    status = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Cog server exited during setup:\n{tail(log)}")
        try:
            health = dict(httpx.get(base_url + "/health-check", timeout=5).json())
            status = str(health.get("status", ""))
        except (httpx.HTTPError, ValueError):
            status = "no answer"
        if status not in ("STARTING", "no answer", ""):
            return health
        time.sleep(0.3)
    raise RuntimeError(f"the Cog server's setup did not end in {timeout:g} s:\n{tail(log)}")


def launch(engine_url: str | None, work_dir: Path, **env_overrides: str) -> Proc:
    """``python -m cog.server.http`` on a free loopback port, setup under way; attached to
    ``engine_url`` (None: setup() starts its own engine)."""
    write_schema(REPO)
    port = free_port()
    log = work_dir / f"cog-{port}.log"
    cmd = [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1"]
    env = predictor_env(port, engine_url, **env_overrides)
    return Proc(f"http://127.0.0.1:{port}", spawn(cmd, log, env), log)


def start_predictor(engine_url: str, work_dir: Path, **env_overrides: str) -> Proc:
    """`launch`, then wait until it is READY (RuntimeError with the log's end otherwise)."""
    server = launch(engine_url, work_dir, **env_overrides)
    try:
        health = wait_setup(server.base_url, server.proc, server.log, 120)
        if health["status"] != "READY":
            raise RuntimeError(f"the Cog server reports {health['status']}: {health['setup']}")
    except BaseException:
        stop_process(server.proc)
        raise
    return server
