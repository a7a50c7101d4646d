"""What the wheel ships: the services, the load test and the test servers the benchmarks start
(``harness``), not the checkout-only tools."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from setuptools import find_packages

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_no_benchmarks_and_no_tests() -> None:
    find = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    shipped = {name.split(".")[0] for name in find_packages(REPO, include=find["find"]["include"])}
    assert shipped == {"gateway", "harness", "loadtest", "schemas", "serve"}


def _imported_distributions(*packages: str) -> dict[str, set[str]]:
    """Third-party distributions the packages' sources import (any import, lazy ones too),
    each with the modules that import it."""
    owners = importlib.metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for package in packages:
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or (REPO / top).is_dir():
                        continue
                    for dist in owners.get(top, [top]):
                        found.setdefault(_normal(dist), set()).add(str(path.relative_to(REPO)))
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_gateway_declares_every_package_it_imports() -> None:
    """The gateway's Docker image installs only the base dependencies: a package imported but
    only pulled in by another (starlette through fastapi, anyio through httpx) could change
    or vanish with that other's next release."""
    declared = {
        _normal(re.split(r"[=<>!~\[; ]", spec, maxsplit=1)[0])
        for spec in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    cog = {
        _normal(re.split(r"[=<>!~\[; ]", spec, maxsplit=1)[0])
        for spec in extras["optional-dependencies"]["cog"]
    }
    imported = _imported_distributions("gateway", "schemas")
    undeclared = {
        dist: sorted(where)
        for dist, where in imported.items()
        if dist not in declared
        # the Cog predictor ships in the cog extra only (the gateway never imports it)
        and not (dist in cog and all(w.startswith("gateway/predictor/") for w in where))
    }
    assert not undeclared, undeclared
