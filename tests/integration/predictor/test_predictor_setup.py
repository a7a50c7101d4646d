"""setup() refusals under coglet's server: one line in /health-check, no engine started.

No engine is needed: each case fails before vLLM would start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cog_server import launch, wait_setup
from tests.support.gateway_server import Proc
from tests.support.procs import free_port, stop_process


@pytest.fixture
def servers() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for server in started:
        stop_process(server.proc)


def setup_failure(server: Proc) -> str:
    health = wait_setup(server.base_url, server.proc, server.log, 120)
    assert health["status"] == "SETUP_FAILED", health
    r = httpx.post(server.base_url + "/predictions", json={"input": {"prompt": "hi"}})
    assert r.status_code == 503 and r.json()["status"] == "failed", r.text
    return str(health["setup"]["logs"])


def test_an_engine_url_that_does_not_answer_fails_setup_in_one_line(
    servers: list[Proc], tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    servers.append(launch(url, tmp_path))
    logs = setup_failure(servers[-1])
    assert f"EngineStartError: COG_ENGINE_URL {url}: /health did not answer 200" in logs


def test_a_gpu_profile_without_weights_fails_setup_naming_the_folder(
    servers: list[Proc], tmp_path: Path
) -> None:
    missing = tmp_path / "no-weights"
    servers.append(
        launch(None, tmp_path, COG_ENGINE_PROFILE="h100-80g", COG_MODEL_DIR=str(missing))
    )
    logs = setup_failure(servers[-1])
    assert f"ModelNotFoundError: no weights at {missing} (no config.json)" in logs
