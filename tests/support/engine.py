"""The real vLLM CPU engine on the tiny checkpoint, started through ``python -m serve run``.

One engine costs about a minute and 4 GB, so test sessions share one (see ``conftest.py``).
Set ``VISION_STACK_ENGINE_URL`` to reuse an engine you already run (its log is then unknown,
so tests that read the log are skipped).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.procs import free_port, stop_process, wait_until_healthy

__all__ = ["REPO", "Engine", "start_engine"]

REPO = Path(__file__).resolve().parents[2]
SERVED_MODEL = "phi-3.5-vision"


@dataclass
class Engine:
    base_url: str
    """Root URL without ``/v1``, e.g. ``http://127.0.0.1:41234``."""
    model: str
    model_dir: Path
    log_path: Path | None
    proc: subprocess.Popen[bytes] | None

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


def tiny_dir() -> Path:
    return Path(os.environ.get("VISION_STACK_TINY_DIR", REPO / ".cache" / "tiny-phi3v")).resolve()


def start_engine(log_dir: Path, profile: str = "cpu-dev", timeout: float = 600.0) -> Engine:
    """Start (or reuse) an engine and return once ``/health`` answers 200."""
    reuse = os.environ.get("VISION_STACK_ENGINE_URL")
    if reuse:
        return Engine(reuse.rstrip("/"), SERVED_MODEL, tiny_dir(), None, None)
    port = free_port()
    log = log_dir / f"vllm-{port}.log"
    cmd = [sys.executable, "-m", "serve", "run", "--profile", profile]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base + "/health", proc, timeout, log)
    except BaseException:
        stop_process(proc)
        raise
    return Engine(base, SERVED_MODEL, tiny_dir(), log, proc)
