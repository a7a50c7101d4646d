"""Runs a server (vLLM, or the gateway under ``make dev``) as a child: start it, wait for
``/health``, stop it cleanly.

The child gets its own session and process group (vLLM forks an engine core and workers), so
stopping signals the whole group: SIGTERM, a grace period, then SIGKILL. Because a signal to
*our* group does not reach it, the parent must stop it (see ``serve.stopsignals``); and because
a parent killed outright cannot, the child is started through ``serve.lifeline`` and gets
SIGTERM when its parent dies. Its output is echoed line by line to ours, and the last lines are
kept so a failed start-up can say why.

    engine = ServerProcess(profile.command(), env=os.environ | profile.vllm_env(), name="vLLM")
    engine.start()
    engine.wait_until_healthy("http://127.0.0.1:8000/health", timeout=600)
    engine.stop()
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from typing import BinaryIO

from serve.errors import EngineStartError
from serve.lifeline import lifeline_argv

__all__ = ["ServerProcess", "health_url", "stop_process_group", "wait_for_health"]

_ERROR_LINE = re.compile(r"\b\w*(Error|Exception)\b:?")
_UNINFORMATIVE = ("Engine core initialization failed", "Traceback (most recent call last)")


def health_url(host: str, port: int) -> str:
    """Where to poll a server bound to ``host``; wildcard binds are polled on loopback."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/health"


def wait_for_health(
    url: str,
    proc: subprocess.Popen[bytes],
    timeout: float,
    why: Callable[[], str],
    name: str = "vLLM",
    interval: float = 0.5,
) -> None:
    """Poll ``url`` until it answers 200. EngineStartError, with ``why()`` (the server's last
    output), as soon as ``proc`` exits or once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        code = proc.poll()
        if code is not None:
            raise EngineStartError(f"{name} exited with code {code} during start-up: {why()}")
        try:
            with urllib.request.urlopen(url, timeout=min(5.0, interval + 2)) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() >= deadline:
            raise EngineStartError(
                f"{name} did not answer {url} with 200 within {timeout:g} s (last output: {why()})"
            )
        time.sleep(interval)


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = 30.0) -> int | None:
    """SIGTERM the process group that ``proc`` leads (started with ``start_new_session``),
    wait up to ``grace`` seconds, then SIGKILL it. Children may outlive the leader briefly
    (vLLM's engine core and workers), so the group gets a last SIGKILL either way."""
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
    _signal_group(proc.pid, signal.SIGKILL)
    return proc.returncode


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class ServerProcess:
    """One server's process group and a thread that copies its output to ours. ``name`` is
    what messages call it ("vLLM", "the gateway")."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str] | None = None,
        *,
        name: str,
        echo: BinaryIO | None = None,
        tail_lines: int = 40,
    ) -> None:
        self.argv = argv
        self.env = env
        self.name = name
        self._echo = echo if echo is not None else sys.stdout.buffer
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._proc: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None

    @property
    def pid(self) -> int:
        """The server's pid (also its process-group id)."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} not started")
        return self._proc.pid

    def start(self) -> None:
        """Spawn the server in a new session, its output piped through us; it gets SIGTERM
        if we die."""
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")  # log lines as they happen, not at exit
        try:
            self._proc = subprocess.Popen(
                lifeline_argv(self.argv),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise EngineStartError(f"cannot start {self.argv[0]}: {exc}") from exc
        self._pump = threading.Thread(
            target=self._copy_output, name=f"{self.name}-output", daemon=True
        )
        self._pump.start()

    def _copy_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        with self._proc.stdout as pipe:
            for raw in iter(pipe.readline, b""):
                self._tail.append(raw.decode(errors="replace").rstrip())
                try:
                    self._echo.write(raw)
                    self._echo.flush()
                except (OSError, ValueError):  # our stdout went away; keep draining the pipe
                    pass

    def poll(self) -> int | None:
        """Exit code if the server has exited, else None."""
        return None if self._proc is None else self._proc.poll()

    def wait(self) -> int:
        """Block until the server exits; its exit code."""
        assert self._proc is not None
        return self._proc.wait()

    def last_lines(self) -> list[str]:
        """The server's most recent output lines, oldest first."""
        if self._pump is not None:
            self._pump.join(timeout=2)  # let the pipe drain after an exit
        return list(self._tail)

    def failure_reason(self) -> str:
        """The line of output that best explains a failure (the last error line)."""
        lines = [line.strip() for line in self.last_lines() if line.strip()]
        for i in range(len(lines) - 1, -1, -1):
            line = lines[i]
            if _ERROR_LINE.search(line) and not any(u in line for u in _UNINFORMATIVE):
                if "validation error" in line and i + 1 < len(lines):
                    line += " " + lines[i + 1]  # pydantic puts the reason on the next line
                return line[:500]
        return lines[-1][:500] if lines else "(no output)"

    def wait_until_healthy(self, url: str, timeout: float, interval: float = 0.5) -> None:
        """Poll ``url`` until it answers 200; EngineStartError if the server dies or stalls."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} not started")
        wait_for_health(url, self._proc, timeout, self.failure_reason, self.name, interval)

    def stop(self, grace: float = 30.0) -> int | None:
        """SIGTERM the process group, wait up to ``grace`` seconds, then SIGKILL it."""
        if self._proc is None:
            return None
        code = stop_process_group(self._proc, grace)
        if self._pump is not None:
            self._pump.join(timeout=2)
        return code
