"""What the README promises, checked against the code without an engine: the response shapes
it documents, and the engine commands it shows (each must pass ``serve plan``'s check).

The commands that need a running stack are in ``tests/integration/test_readme_commands.py``.
"""

from __future__ import annotations

import shlex

import pytest
from pydantic import BaseModel

from gateway.pipeline.models import DocumentResponse, ExtractResponse, VerifyResponse
from serve.cli import main as serve_main
from tests.support.readme import README, documented

KNOBS = ("--max-model-len", "--max-num-seqs", "--gpu-memory-utilization", "--model")


def wire_names(model: type[BaseModel]) -> list[str]:
    return [field.serialization_alias or name for name, field in model.model_fields.items()]


@pytest.mark.parametrize(
    ("after", "model"),
    [
        ("A success is", ExtractResponse),
        ("at most the key's concurrency limit at once. The answer is", DocumentResponse),
        ("or a person's correction) and returns", VerifyResponse),
    ],
)
def test_documented_shapes_name_every_field(after: str, model: type[BaseModel]) -> None:
    assert sorted(documented(after)) == sorted(wire_names(model))


def _serve_commands() -> list[list[str]]:
    commands = []
    for line in README.splitlines():
        if ".venv/bin/python -m serve run" in line or ".venv/bin/python -m serve plan" in line:
            words = shlex.split(line.split("#", 1)[0])
            commands.append(words[words.index("serve") + 1 :])
    return commands


def test_the_readme_shows_engine_commands() -> None:
    assert len(_serve_commands()) >= 3


@pytest.mark.parametrize("command", _serve_commands(), ids=" ".join)
def test_every_engine_command_in_the_readme_plans(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """``serve run`` refuses a profile that cannot hold one full request before it starts
    anything; ``serve plan`` with the same profile and knobs runs that same check."""
    args = ["plan", "--profile", command[command.index("--profile") + 1]]
    for knob in KNOBS:
        if knob in command:
            args += [knob, command[command.index(knob) + 1]]
    assert serve_main(args) == 0, capsys.readouterr().err
