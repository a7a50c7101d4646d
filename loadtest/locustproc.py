"""Locust as a child process: its command line per load shape, and running it.

A child process rather than Locust's library API: gevent's monkey-patching then stays out of
the CLI, whose thread scrapes vLLM's ``/metrics`` on a clock of its own, and ``--processes
N`` works as Locust documents it. The child gets the API key in its environment, never on its
command line or in a file.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

from loadtest.config import RunConfig

__all__ = ["GRACE_S", "expected_s", "locust_command", "run_locust"]

PKG = Path(__file__).resolve().parent
REPO = PKG.parent
GRACE_S = 120.0
"""How long Locust may overrun its planned duration before it is stopped."""


def locust_command(cfg: RunConfig, config_path: Path, out: Path) -> list[str]:
    """The headless Locust command line for ``cfg``'s shape."""
    files = str(PKG / "locustfile.py")
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "--headless",
        "-H",
        cfg.host,
        "--loadtest-config",
        str(config_path),
        "--csv",
        str(out / "locust"),
        "--csv-full-history",
        "--html",
        str(out / "locust.html"),
        "--only-summary",
        "--exit-code-on-error",
        "1",
    ]
    kinds = {
        "chat": "ChatUser",
        "stream": "StreamUser",
        "extract": "ExtractUser",
        "repeat": "RepeatImageUser",
    }
    classes = [kinds[k] for k in cfg.weights()]
    if cfg.shape == "step":
        files += "," + str(PKG / "stepshape.py")  # the shape class sets users and duration
    elif cfg.shape == "open":
        n = str(cfg.processes)  # one arrival scheduler per Locust process
        cmd += ["-u", n, "-r", n, "-t", f"{cfg.duration_s:g}s", "--reset-stats"]
        classes = ["OpenLoopUser"]
    else:
        cmd += [
            "-u",
            str(cfg.users),
            "-r",
            f"{cfg.spawn_rate:g}",
            "-t",
            f"{cfg.duration_s:g}s",
            "--reset-stats",
        ]
    if cfg.processes > 1:
        cmd += ["--processes", str(cfg.processes)]
    return cmd + ["-f", files, *classes]


def expected_s(cfg: RunConfig) -> float:
    if cfg.shape == "step":
        return len(cfg.step_levels()) * cfg.step_duration_s
    return cfg.duration_s


def run_locust(
    cmd: list[str], env: dict[str, str], log: Path, quiet: bool, deadline_s: float
) -> int:
    """Run Locust, tee its output to ``log``; stop it if it overruns by `GRACE_S`."""
    with log.open("w") as sink:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        timer = threading.Timer(deadline_s, proc.terminate)
        timer.daemon = True
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                sink.write(line)
                if not quiet:
                    sys.stdout.write(line)
                    sys.stdout.flush()
            return proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)  # Locust stops cleanly and writes its files
            try:
                return proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                return proc.wait()
        finally:
            timer.cancel()
