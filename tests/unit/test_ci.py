"""CI runs what keeps the code honest: the lint, and the test suite with its slowest tests shown.

The checks read ``.ci/run`` and the Makefile as make and bash would, by running them dry
(``make -n``), so that a target renamed or dropped from CI fails here and not in review.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _dry_run(target: str) -> str:
    """The commands ``make TARGET`` would run after setup, without running them."""
    make = shutil.which("make")
    assert make, "make is needed to build and test this project"
    out = subprocess.run(
        [make, "-n", "-o", ".venv/.setup-done", target],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def test_ci_runs_the_lint_and_the_tests() -> None:
    steps = [
        line.strip()
        for line in (REPO / ".ci" / "run").read_text().splitlines()
        if line.strip().startswith("make ")
    ]
    assert [step.split()[1] for step in steps] == ["lint", "test"], steps


def test_lint_runs_ruff_the_formatter_and_mypy() -> None:
    commands = _dry_run("lint")
    assert "ruff check ." in commands
    assert "ruff format --check ." in commands
    assert "mypy" in commands


def test_the_test_targets_print_the_slowest_tests() -> None:
    for target in ("test", "test-unit"):
        assert "--durations=25" in _dry_run(target), target
