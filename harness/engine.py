"""The real vLLM CPU engine on the tiny checkpoint, started through ``python -m serve run``.

One engine costs about a minute and 4 GB, so test sessions share one (see ``conftest.py``).
Set ``VISION_STACK_ENGINE_URL`` to reuse an engine you already run (its log is then unknown,
so tests that read the log are skipped).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.procs import REPO, free_port, spawn, stop_process, wait_until_healthy

__all__ = [
    "REPO",
    "Engine",
    "expected_prompt_tokens",
    "prefix_cache_counts",
    "settled_prefix_cache_counts",
    "start_engine",
    "tree_rss_bytes",
]

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


def start_engine(
    log_dir: Path,
    profile: str = "cpu-dev",
    timeout: float = 600.0,
    reuse_env: bool = True,
    port: int | None = None,
) -> Engine:
    """Start (or reuse) an engine and return once ``/health`` answers 200.

    ``reuse_env=False`` always starts a new one (a second replica must not be the first);
    ``port`` starts it at that port (an engine killed and started again at its address)."""
    reuse = os.environ.get("VISION_STACK_ENGINE_URL") if reuse_env and port is None else None
    if reuse:
        return Engine(reuse.rstrip("/"), SERVED_MODEL, tiny_dir(), None, None)
    again = f"-{time.time_ns()}" if port else ""  # a restart keeps the first run's log
    port = port or free_port()
    log = log_dir / f"vllm-{port}{again}.log"
    cmd = [sys.executable, "-m", "serve", "run", "--profile", profile]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    proc = spawn(cmd, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base + "/health", proc, timeout, log)
    except BaseException:
        stop_process(proc)
        raise
    return Engine(base, SERVED_MODEL, tiny_dir(), log, proc)


def prefix_cache_counts(base_url: str) -> tuple[float, float]:
    """(hits, queries) in tokens from vLLM's ``/metrics``, summed over label sets."""
    import httpx

    from loadtest.enginemetrics import parse_metrics, total

    samples = parse_metrics(httpx.get(base_url + "/metrics", timeout=10).text)
    hits = total(samples, "vllm:prefix_cache_hits_total") or 0.0
    return hits, total(samples, "vllm:prefix_cache_queries_total") or 0.0


def settled_prefix_cache_counts(base_url: str, timeout: float = 5.0) -> tuple[float, float]:
    """``prefix_cache_counts`` once two reads 0.2 s apart agree: vLLM can send a response
    before it records that request's stats, so a single read may miss the last request."""
    import time

    last = prefix_cache_counts(base_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = prefix_cache_counts(base_url)
        if now == last:
            return now
        last = now
    return last


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (vLLM runs an engine core child)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def expected_prompt_tokens(model_dir: Path, text: str, images: list[Any], crops: int) -> int:
    """What our processor counts for the prompt vLLM builds from the chat template (one user
    message: the images, then ``text``)."""
    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(model_dir, trust_remote_code=True, num_crops=crops)
    tags = "".join(f"<|image_{i + 1}|>\n" for i in range(len(images)))
    prompt = proc.tokenizer.apply_chat_template(
        [{"role": "user", "content": tags + text}], tokenize=False, add_generation_prompt=True
    )
    return int(proc(text=prompt, images=images)["input_ids"].shape[1])
