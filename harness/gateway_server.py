"""Real gateway (and stub upstream) processes for integration tests, stopped by pid.

upstream = start_stub(log_dir)                        # harness.gateway_stub
gw = start_gateway(upstream.base_url, tmp_dir, GATEWAY_MAX_N="2")
key = gw.create_key("alice", rpm=5)
...
gw.stop(); upstream.stop()
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gateway.auth.store import open_key_store
from harness.procs import REPO, free_port, spawn, stop_process, wait_until_healthy

__all__ = [
    "REPO",
    "STUB",
    "Proc",
    "GatewayServer",
    "gateway_env",
    "run_gateway",
    "start_gateway",
    "start_stub",
]

STUB = ["-m", "harness.gateway_stub"]
"""The stub upstream's command line after ``python`` (run from the repository root)."""


@dataclass
class Proc:
    """A server process on loopback; ``stop`` signals its process group."""

    base_url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        stop_process(self.proc, grace=10.0)


@dataclass
class GatewayServer(Proc):
    keys_db: Path | str = field(default=Path())
    env: dict[str, str] = field(default_factory=dict)

    def create_key(self, name: str, **options: object) -> str:
        """A key in this server's store (SQLite file or PostgreSQL)."""

        async def create() -> str:
            store = open_key_store(self.keys_db)
            try:
                return await store.create(name, **options)  # type: ignore[arg-type]
            finally:
                await store.close()

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(create())
        # A loop already runs in this thread (Playwright's sync API keeps one): use another.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, create()).result()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``python -m gateway …`` against this server's key store."""
        return run_gateway(self.env, *args)


def gateway_env(keys_db: Path | str, **overrides: str) -> dict[str, str]:
    """This process's environment without its ``GATEWAY_*`` variables, with the key store,
    the repository on the path, and ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update({"GATEWAY_KEYS_DB": str(keys_db), "PYTHONPATH": str(REPO)})
    env.update(overrides)
    return env


def run_gateway(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m gateway ARGS`` to its end (at most a minute), output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def start_stub(
    log_dir: Path, name: str = "stub", port: int | None = None, service_ms: float = 0.0
) -> Proc:
    """The fixed-response / fault-injecting upstream stub; it answers with id chatcmpl-NAME,
    each chat answer after ``service_ms``. Pass ``port`` to restart a stopped stub at the
    same address."""
    port = port or free_port()
    log = log_dir / f"stub-{name}-{port}.log"
    cmd = [sys.executable, *STUB, "--port", str(port), "--name", name]
    if service_ms:
        cmd += ["--service-ms", str(service_ms)]
    proc = spawn(cmd, log, dict(os.environ))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base + "/health", proc, 30, log)
    except BaseException:
        stop_process(proc)
        raise
    return Proc(base, proc, log)


def start_gateway(upstream_url: str, work_dir: Path, **env_overrides: str) -> GatewayServer:
    """``python -m gateway serve`` on a free port with a fresh key store in ``work_dir``
    (or the one ``GATEWAY_KEYS_DB`` names, a PostgreSQL URL shared by several gateways)."""
    port = free_port()
    keys_db: Path | str = env_overrides.pop("GATEWAY_KEYS_DB", None) or work_dir / f"keys-{port}.db"
    env = gateway_env(keys_db, GATEWAY_UPSTREAM_URL=upstream_url, **env_overrides)
    log = work_dir / f"gateway-{port}.log"
    proc = spawn([sys.executable, "-m", "gateway", "serve", "--port", str(port)], log, env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base + "/health", proc, 60, log)
    except BaseException:
        stop_process(proc)
        raise
    return GatewayServer(base, proc, log, keys_db, env)
