"""Settings come from GATEWAY_* variables, with checked values."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import MIB, Settings, settings_table


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    s = Settings()
    assert s.upstream_url == "http://127.0.0.1:8000"
    assert (s.host, s.port) == ("127.0.0.1", 8080)
    assert s.max_image_bytes == 20 * MIB and s.max_image_pixels == 50_000_000
    assert s.max_images_per_request == 20
    assert s.allow_private_fetch is False and s.metrics_public is False
    assert s.fetch_allowed_hosts == []
    assert 0 < s.key_cache_ttl_s <= 1


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_UPSTREAM_URL", "http://10.0.0.5:9000/")
    monkeypatch.setenv("GATEWAY_KEYS_DB", "/tmp/x/keys.db")
    monkeypatch.setenv("GATEWAY_PORT", "9999")
    monkeypatch.setenv("GATEWAY_MAX_IMAGES_PER_REQUEST", "4")
    monkeypatch.setenv("GATEWAY_FETCH_ALLOWED_HOSTS", "Images.Example.com, *.cdn.test")
    monkeypatch.setenv("GATEWAY_ALLOW_PRIVATE_FETCH", "true")
    monkeypatch.setenv("GATEWAY_METRICS_PUBLIC", "1")
    s = Settings()
    assert s.upstream_url == "http://10.0.0.5:9000"
    assert s.keys_db == Path("/tmp/x/keys.db")
    assert s.port == 9999 and s.max_images_per_request == 4
    assert s.fetch_allowed_hosts == ["images.example.com", "*.cdn.test"]
    assert s.allow_private_fetch and s.metrics_public


def test_allowed_hosts_as_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_FETCH_ALLOWED_HOSTS", '["a.test", "b.test"]')
    assert Settings().fetch_allowed_hosts == ["a.test", "b.test"]


@pytest.mark.parametrize(
    "name,value",
    [
        ("GATEWAY_PORT", "0"),
        ("GATEWAY_PORT", "eighty"),
        ("GATEWAY_UPSTREAM_URL", "ftp://x"),
        ("GATEWAY_KEY_CACHE_TTL_S", "5"),
        ("GATEWAY_NUM_CROPS_MIN", "20"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_the_readme_lists_every_setting_with_its_default() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    start, end = "<!-- gateway-settings:start -->\n", "<!-- gateway-settings:end -->"
    embedded = readme[readme.index(start) + len(start) : readme.index(end)]
    assert embedded == settings_table(), "run `python -m gateway settings` and paste it"
    for name, field in Settings.model_fields.items():
        assert f"| `GATEWAY_{name.upper()}` |" in embedded
        assert field.description, f"{name} needs a docstring: it is the README's explanation"


def test_log_level_is_checked_and_case_blind() -> None:
    assert Settings(log_level="DEBUG").log_level == "debug"
    with pytest.raises(ValidationError, match="log_level"):
        Settings(log_level="loud")


def test_extraction_is_greedy_and_unseeded_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dev-only sampling defaults are off unless ``make dev`` (cpu-dev) or an operator
    sets them."""
    monkeypatch.delenv("GATEWAY_EXTRACT_DEFAULT_TEMPERATURE", raising=False)
    monkeypatch.delenv("GATEWAY_EXTRACT_DEFAULT_SEED", raising=False)
    s = Settings()
    assert (s.extract_default_temperature, s.extract_default_seed) == (0.0, None)
    monkeypatch.setenv("GATEWAY_EXTRACT_DEFAULT_TEMPERATURE", "1.0")
    monkeypatch.setenv("GATEWAY_EXTRACT_DEFAULT_SEED", "7")
    s = Settings()
    assert (s.extract_default_temperature, s.extract_default_seed) == (1.0, 7)
    monkeypatch.setenv("GATEWAY_EXTRACT_DEFAULT_TEMPERATURE", "3")
    with pytest.raises(ValidationError):
        Settings()
