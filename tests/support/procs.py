"""Start and stop real server processes for tests, always by pid and process group.

Every process here is started in its own session; ``stop_process`` is the launcher's
``stop_process_group``, the same stop that ``make dev`` and ``serve run`` use."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx

from serve.launcher import stop_process_group as stop_process

__all__ = ["free_port", "stop_process", "tail", "wait_until_healthy"]


def free_port() -> int:
    """A loopback port nobody is listening on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_until_healthy(
    url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path | None = None
) -> None:
    """Poll ``url`` until it answers 200; fail fast if the process dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"process {proc.pid} exited with {proc.returncode} before {url} was healthy\n"
                + (tail(log) if log else "")
            )
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not healthy after {timeout:.0f} s\n" + (tail(log) if log else ""))
