"""Before any load: is the stack there, does the key work, what does it serve?

Locust against a dead host prints a wall of connection errors; against a wrong key, a run of
401s dressed up as a result. So the CLI checks first and stops with one line that says what
to start or set (`StackNotReady`). What it learns (the served model, the extraction schemas,
versions) goes into the config and the report. A run with the extract kind needs the gateway's
schema list: if ``/v1/schemas`` fails, the run stops there rather than guessing names.

    info = check_stack("http://127.0.0.1:8080", api_key)
    info.model, info.schemas      # ('phi-3.5-vision', ['image_insight', 'scene', ...])
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "DEV_KEY_FILE",
    "StackInfo",
    "StackNotReady",
    "check_stack",
    "collect_versions",
    "parse_schema_list",
    "resolve_api_key",
]

REPO = Path(__file__).resolve().parents[1]
DEV_KEY_FILE = Path(
    os.environ.get("GATEWAY_KEYS_DB") or REPO / ".cache" / "gateway-keys.db"
).with_name("dev-api-key")
"""Where ``make dev`` keeps its development key: beside the key store (``serve/stack.py``)."""
START_HINT = (
    "start the stack with `make dev` (vLLM + gateway on http://127.0.0.1:8080) "
    "or point HOST= at a running gateway"
)


class StackNotReady(Exception):
    """The stack cannot be load-tested as asked; ``str()`` is the one line to print."""


@dataclass
class StackInfo:
    model: str
    models: list[str]
    schemas: list[str] = field(default_factory=list)
    """The gateway's extraction schemas; empty when they were not asked for."""


def resolve_api_key(explicit: str | None, key_file: Path = DEV_KEY_FILE) -> tuple[str, str]:
    """(key, where it came from): ``--api-key``, ``$OPENAI_API_KEY``, or make dev's key."""
    if explicit:
        return explicit, "--api-key"
    if os.environ.get("OPENAI_API_KEY"):
        return os.environ["OPENAI_API_KEY"], "OPENAI_API_KEY"
    if key_file.is_file():
        return key_file.read_text().strip(), str(key_file)
    return "", "none"


def parse_schema_list(payload: Any) -> list[str]:
    """Schema names from ``[{"name": …}]``, ``{"data": [...]}`` or a list of strings."""
    items = payload.get("data", payload.get("schemas")) if isinstance(payload, dict) else payload
    names: list[str] = []
    for item in items if isinstance(items, list) else []:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name:
            names.append(name)
    return names


def _error_text(resp: httpx.Response) -> str:
    try:
        err = resp.json().get("error", {})
        return str(err.get("message") or err)[:160]
    except (ValueError, AttributeError):
        return resp.text[:160]


def _get(client: httpx.Client, url: str) -> httpx.Response:
    try:
        return client.get(url)
    except httpx.ConnectError as exc:
        raise StackNotReady(f"nothing answers at {url} ({exc}); {START_HINT}") from None
    except httpx.TimeoutException:
        raise StackNotReady(
            f"{url} did not answer in time; is the stack overloaded or "
            f"still starting? ({START_HINT})"
        ) from None
    except httpx.HTTPError as exc:
        raise StackNotReady(
            f"cannot reach {url} ({type(exc).__name__}: {exc}); {START_HINT}"
        ) from None


def _schemas(client: httpx.Client, host: str) -> list[str]:
    resp = _get(client, f"{host}/v1/schemas")
    if resp.status_code != 200:
        raise StackNotReady(
            f"{host}/v1/schemas answered HTTP {resp.status_code} ({_error_text(resp)}); the "
            "extract kind needs the gateway's schemas: use a key with the 'extract' scope, "
            "or leave extract out of --mix"
        )
    try:
        names = parse_schema_list(resp.json())
    except ValueError:
        names = []
    if not names:
        raise StackNotReady(f"{host}/v1/schemas listed no schema; is HOST the gateway?")
    return names


def check_stack(
    host: str,
    api_key: str,
    model: str | None = None,
    timeout: float = 10.0,
    *,
    schemas: bool = True,
) -> StackInfo:
    """Probe ``/v1/models`` and, with ``schemas``, ``/v1/schemas``; raise `StackNotReady`
    with a hint."""
    host = host.rstrip("/")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(timeout=timeout, headers=headers) as client:
        resp = _get(client, f"{host}/v1/models")
        if resp.status_code == 401:
            why = "no API key was given" if not api_key else "the API key was refused"
            raise StackNotReady(
                f"{host}: {why} (401); set OPENAI_API_KEY to a gateway key "
                "(`make dev` prints one; `python -m gateway keys create --name loadtest`)"
            )
        if resp.status_code in (502, 503, 504):
            raise StackNotReady(
                f"the gateway at {host} answers but its engine does not (HTTP "
                f"{resp.status_code}: {_error_text(resp)}); start vLLM (`make dev` starts both)"
            )
        if resp.status_code != 200:
            raise StackNotReady(
                f"{host}/v1/models answered HTTP {resp.status_code} "
                f"({_error_text(resp)}); is HOST the gateway?"
            )
        try:
            models = [m["id"] for m in resp.json()["data"]]
        except (ValueError, KeyError, TypeError):
            raise StackNotReady(
                f"{host}/v1/models did not return an OpenAI model list; is HOST the gateway?"
            ) from None
        if not models:
            raise StackNotReady(f"{host} serves no model yet; wait for the engine to load")
        if model and model not in models:
            raise StackNotReady(
                f"model {model!r} is not served at {host} (served: {', '.join(models)})"
            )
        return StackInfo(model or models[0], models, _schemas(client, host) if schemas else [])


def _engine_version(metrics_url: str) -> str | None:
    base = metrics_url.rsplit("/metrics", 1)[0]
    try:
        return str(httpx.get(f"{base}/version", timeout=5).json().get("version"))
    except (httpx.HTTPError, ValueError, AttributeError):
        return None


def _dist(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def collect_versions(engine_metrics_urls: list[str]) -> dict[str, str | None]:
    """What produced the numbers: this code's commit, Locust, Python, the engine's vLLM."""
    try:
        commit: str | None = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout.strip()
            or None
        )
    except OSError:
        commit = None
    versions = {
        "vision-stack": _dist("vision-stack"),
        "git_commit": commit,
        "locust": _dist("locust"),
        "python": platform.python_version(),
        "load_generator": f"{platform.node()} ({os.cpu_count()} CPUs)",
    }
    for i, url in enumerate(engine_metrics_urls):
        versions["vllm" if i == 0 else f"vllm[{i}]"] = _engine_version(url)
    return versions
