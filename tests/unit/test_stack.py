"""``make dev``'s gateway environment (``serve.stack.gateway_env``), without starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import Settings
from serve.stack import DEV_EXTRACT_SAMPLING, gateway_env, keys_db


def test_cpu_dev_samples_extractions_with_a_seed_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = gateway_env("cpu-dev", "http://127.0.0.1:8000", {}, repo=tmp_path)
    assert env["GATEWAY_EXTRACT_DEFAULT_TEMPERATURE"] == "1.0"
    assert env["GATEWAY_EXTRACT_DEFAULT_SEED"] == "7"
    for name in DEV_EXTRACT_SAMPLING:
        monkeypatch.setenv(name, env[name])
    settings = Settings()  # the gateway reads them as these settings
    assert settings.extract_default_temperature == 1.0
    assert settings.extract_default_seed == 7


def test_real_profiles_keep_greedy_unseeded_extraction(tmp_path: Path) -> None:
    for profile in ("h100-80g", "a100-80g", "l4-24g"):
        env = gateway_env(profile, "http://127.0.0.1:8000", {}, repo=tmp_path)
        assert not set(DEV_EXTRACT_SAMPLING) & set(env), profile


def test_the_callers_environment_wins(tmp_path: Path) -> None:
    base = {"GATEWAY_EXTRACT_DEFAULT_TEMPERATURE": "0", "GATEWAY_KEYS_DB": "/srv/keys.db"}
    env = gateway_env("cpu-dev", "http://127.0.0.1:8000", base, repo=tmp_path)
    assert env["GATEWAY_EXTRACT_DEFAULT_TEMPERATURE"] == "0"
    assert env["GATEWAY_KEYS_DB"] == "/srv/keys.db"


def test_the_dev_gateway_reads_the_store_under_cache(tmp_path: Path) -> None:
    env = gateway_env("cpu-dev", "http://127.0.0.1:8000", {}, repo=tmp_path)
    assert (
        env["GATEWAY_KEYS_DB"] == str(keys_db(tmp_path)) == str(tmp_path / ".cache/gateway-keys.db")
    )
    assert env["GATEWAY_UPSTREAM_URL"] == "http://127.0.0.1:8000"
    assert env["GATEWAY_MAX_IMAGES_PER_REQUEST"] == "20"
