"""Start and stop real server processes for tests, always by pid and process group.

Every process here is started in its own session; ``stop_process`` is the launcher's
``stop_process_group``, the same stop that ``make dev`` and ``serve run`` use."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from serve.launcher import stop_process_group as stop_process
from serve.launcher import wait_for_health

__all__ = ["REPO", "free_port", "spawn", "stop_process", "tail", "wait_until_healthy"]

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A loopback port nobody is listening on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``cmd`` from the repository root in a new session (its own process group, as a
    terminal's job), stdout and stderr into ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_until_healthy(
    url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path | None = None
) -> None:
    """The launcher's health wait; a failure quotes the end of ``log``."""
    wait_for_health(url, proc, timeout, lambda: tail(log) if log else "", name=f"pid {proc.pid}")
