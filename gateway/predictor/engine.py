"""The engine behind the predictor: vLLM started from a serve profile, or one already running.

``setup()`` calls `start_engine`: the profile comes from the GPU (`gpus.profile_for`), the
weights from ``/model-cache`` (baked in by ``cog build``, see cog.yaml), patched to our
processor by ``docker/patch_checkpoint.py`` exactly as the vLLM image does, so pre-sizing and
token counts match the gateway's. ``COG_ENGINE_URL`` skips all that and attaches to a running
engine (tests, or an engine on another port of the same machine).

Every failure is a `ServeError` with one line that names the cause (no weights, a GPU no
profile fits, vLLM exiting during start-up with its last error line).

    engine = start_engine(weights=None)     # or attach("http://127.0.0.1:8000")
    engine.base_url, engine.profile, engine.model_revision
    engine.stop()
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from serve.cli import resolve_model
from serve.errors import EngineStartError, ModelNotFoundError, ServeError
from serve.kvcache import plan
from serve.launcher import ServerProcess, health_url
from serve.profiles import REPO_ROOT, EngineProfile, get_profile

from .gpus import first_gpu, profile_for

__all__ = ["MODEL_CACHE", "Engine", "attach", "engine_from_env", "start_engine"]

MODEL_CACHE = Path("/model-cache/phi-3.5-vision-instruct")
"""Where cog.yaml's build step puts the weights (the same folder as docker/vllm.Dockerfile)."""
PATCH_SCRIPT = REPO_ROOT / "docker" / "patch_checkpoint.py"
STARTUP_TIMEOUT_S = 1200.0
"""Loading 8 GB of weights and capturing CUDA graphs takes minutes on a cold machine."""


@dataclass
class Engine:
    """A healthy engine: where it answers, what it serves, and (if ours) its process."""

    base_url: str
    """Root URL without ``/v1``."""
    profile: str | None
    """The serve profile it runs; None when attached (we did not choose it)."""
    max_images: int | None
    """The profile's ``limit_mm_per_prompt`` (what vLLM refuses above); None when attached."""
    model_revision: str
    process: ServerProcess | None = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def engine_from_env(weights: str | None) -> Engine:
    """``COG_ENGINE_URL`` attached, else an engine started for this machine."""
    url = os.environ.get("COG_ENGINE_URL", "").strip()
    if url:
        return attach(url)
    return start_engine(weights)


def attach(url: str, timeout: float = 30.0) -> Engine:
    """An engine already running at ``url`` (EngineStartError if its /health is not 200)."""
    base = url.rstrip("/").removesuffix("/v1")
    _check_health(base, timeout)
    return Engine(base, None, None, _revision(base))


def start_engine(weights: str | None) -> Engine:
    """vLLM on a free loopback port with the profile for this machine's GPU, healthy."""
    name = profile_for(first_gpu(), os.environ.get("COG_ENGINE_PROFILE") or None)
    profile = _with_weights(get_profile(name), weights).with_overrides(
        host="127.0.0.1", port=_free_port()
    )
    plan(profile)  # ProfileError with the numbers when one full request cannot fit
    process = ServerProcess(profile.command(), {**os.environ, **profile.vllm_env()}, name="vLLM")
    process.start()
    timeout = float(os.environ.get("COG_ENGINE_STARTUP_TIMEOUT", STARTUP_TIMEOUT_S))
    try:
        process.wait_until_healthy(health_url(profile.host, profile.port), timeout)
    except BaseException:
        process.stop()
        raise
    base = f"http://{profile.host}:{profile.port}"
    return Engine(base, profile.name, profile.limit_mm_per_prompt, _revision(base), process)


def _with_weights(profile: EngineProfile, weights: str | None) -> EngineProfile:
    """The profile pointed at its checkpoint: the tiny one (built on demand) for cpu-dev, else
    ``weights`` / ``COG_MODEL_DIR`` / ``/model-cache``, patched to our processor."""
    if profile.architecture == "tiny-phi3v":
        return resolve_model(profile, build_tiny=True)
    if weights and not Path(weights).is_dir():
        raise ModelNotFoundError(
            f"COG_WEIGHTS must be a checkpoint folder, got {weights!r} (setup() downloads "
            f"nothing: bake the weights into {MODEL_CACHE} with `cog build`)"
        )
    folder = Path(weights or os.environ.get("COG_MODEL_DIR") or MODEL_CACHE)
    if not (folder / "config.json").is_file():
        raise ModelNotFoundError(
            f"no weights at {folder} (no config.json): build the image with `cog build`, which "
            f"bakes them into {MODEL_CACHE}, or set COG_MODEL_DIR to a checkpoint folder"
        )
    _patch(folder)
    return resolve_model(profile.with_overrides(model=str(folder)), build_tiny=False)


def _patch(folder: Path) -> None:
    """docker/patch_checkpoint.py on ``folder`` (idempotent: a patched folder is left as is)."""
    cmd = [sys.executable, str(PATCH_SCRIPT), str(folder), "--code", str(REPO_ROOT / "serve/phi3v")]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ServeError(f"cannot patch the checkpoint at {folder}: {last}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _check_health(base: str, timeout: float) -> None:
    try:
        with urllib.request.urlopen(base + "/health", timeout=timeout) as resp:
            if resp.status == 200:
                return
            status = str(resp.status)
    except (urllib.error.URLError, OSError) as exc:
        status = str(exc)
    raise EngineStartError(f"COG_ENGINE_URL {base}: /health did not answer 200 ({status})")


def _revision(base: str) -> str:
    """What the outputs name as the model's revision: ``COG_MODEL_REVISION`` (cog.yaml sets
    the pinned Hub commit of the baked weights), else the checkpoint the engine reports."""
    pinned = os.environ.get("COG_MODEL_REVISION", "").strip()
    if pinned:
        return pinned
    try:
        with urllib.request.urlopen(base + "/v1/models", timeout=10) as resp:
            models = json.load(resp)
        return str(models["data"][0].get("root") or models["data"][0]["id"])
    except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError, TypeError):
        return "unknown"
