"""What the wheel ships: the services, the load test and the test servers the benchmarks start
(``harness``), not the checkout-only tools."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_no_benchmarks_and_no_tests() -> None:
    find = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    shipped = {name.split(".")[0] for name in find_packages(REPO, include=find["find"]["include"])}
    assert shipped == {"gateway", "harness", "loadtest", "schemas", "serve"}
