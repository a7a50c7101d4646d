"""The engine's start-up refusals: one line each, before anything is started."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.predictor.engine import attach, start_engine
from serve.errors import EngineStartError, ModelNotFoundError
from tests.support.procs import free_port


def test_attaching_to_nothing_fails_in_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(EngineStartError) as info:
        attach(url, timeout=2)
    assert str(info.value).startswith(f"COG_ENGINE_URL {url}: /health did not answer 200")
    assert "\n" not in str(info.value)


def test_a_gpu_profile_without_weights_fails_naming_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COG_ENGINE_PROFILE", "h100-80g")
    monkeypatch.setenv("COG_MODEL_DIR", str(tmp_path / "nothing"))
    with pytest.raises(ModelNotFoundError) as info:
        start_engine(weights=None)
    assert str(info.value).startswith(f"no weights at {tmp_path / 'nothing'} (no config.json)")
    assert "\n" not in str(info.value)


def test_cog_weights_that_are_not_a_folder_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COG_ENGINE_PROFILE", "a100-80g")
    with pytest.raises(ModelNotFoundError, match="^COG_WEIGHTS must be a checkpoint folder"):
        start_engine(weights="https://example.com/weights.tar")
