"""What the README promises, checked against the code without an engine: the response shapes
it documents, and the engine commands it shows (each must pass ``serve plan``'s check).

The commands that need a running stack are in ``tests/integration/test_readme_commands.py``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from pydantic import BaseModel

from gateway.extract.models import DocumentResponse, ExtractResponse, VerifyResponse
from serve.cli import main as serve_main

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
KNOBS = ("--max-model-len", "--max-num-seqs", "--gpu-memory-utilization", "--model")


def top_level_names(shape: str) -> list[str]:
    """The quoted names at the top level of a documented shape such as
    ``{"id", "object": "extraction", "data": {…}, "pages": [{"page"} | {"error"}]}``: what
    sits inside nested braces or brackets, and the values after a colon, are left out.

    >>> top_level_names('{"id", "object": "x", "data": {"a"}, "pages": [{"b"}], "usage"}')
    ['id', 'object', 'data', 'pages', 'usage']
    """
    depth, flat = 0, []
    for char in shape.strip()[1:-1]:
        depth += char in "{["
        if depth == 0:
            flat.append(char)
        depth -= char in "}]"
    text = re.sub(r':\s*"[^"]*"', ":", "".join(flat))  # drop literal values
    return re.findall(r'"(\w+)"', text)


def documented(after: str) -> list[str]:
    """The names of the first backticked ``{…}`` shape that follows ``after`` in the README."""
    start = README.index(after) + len(after)
    match = re.search(r"`(\{.*?\})`", README[start:], re.DOTALL)
    assert match, f"no documented shape after {after!r}"
    return top_level_names(" ".join(match.group(1).split()))


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
