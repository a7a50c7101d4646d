"""Durations, mixes and the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.config import RunConfig, parse_duration, parse_mix


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("90s", 90),
        ("5m", 300),
        ("1h30m", 5400),
        ("1m30s", 90),
        ("2.5s", 2.5),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "5x", "m5"])
def test_parse_duration_refuses_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_parse_mix_weights_and_defaults_to_zero() -> None:
    assert parse_mix("stream=3, extract") == {"chat": 0, "stream": 3, "extract": 1, "repeat": 0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("video=1", "unknown kind"),
        ("chat=x", "not a number"),
        ("chat=0", "no kind"),
        ("chat=-1", "negative"),
    ],
)
def test_parse_mix_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mix(text)


def test_config_round_trips_and_ignores_unknown_keys(tmp_path: Path) -> None:
    cfg = RunConfig(users=9, mix=parse_mix("chat=2"), num_crops=16, engine_metrics_urls=["u"])
    cfg.save(tmp_path / "c.json")
    assert RunConfig.load(tmp_path / "c.json") == cfg
    assert RunConfig.from_json({**cfg.to_json(), "from_the_future": 1}) == cfg
    assert cfg.weights() == {"chat": 2.0}


def test_step_levels() -> None:
    assert RunConfig(users=16, step_users=4).step_levels() == [4, 8, 12, 16]
    assert RunConfig(users=10, step_users=4).step_levels() == [4, 8, 10]
    assert RunConfig(users=3, step_users=8).step_levels() == [3]


def test_step_index() -> None:
    cfg = RunConfig(step_duration_s=30)
    assert [cfg.step_index(t) for t in (-1, 0, 29.9, 30, 65)] == [0, 0, 0, 1, 2]
