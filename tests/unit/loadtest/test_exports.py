"""Every name in each module's ``__all__`` exists (modules that import Locust excluded:
importing them here would monkey-patch this process with gevent)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

LOCUST_FREE = [
    "cli",
    "config",
    "context",
    "corpus",
    "cpumeter",
    "enginemetrics",
    "locustproc",
    "payloads",
    "plots",
    "preflight",
    "render",
    "report",
    "runner",
    "samples",
    "scenarios",
    "sse",
    "stats",
    "summary",
]


@pytest.mark.parametrize("name", LOCUST_FREE)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(f"loadtest.{name}")
    assert module.__all__, name
    for attr in module.__all__:
        assert hasattr(module, attr), f"loadtest.{name}.{attr}"


def test_report_side_never_imports_locust() -> None:
    """The report, CLI and unit-tested modules must stay free of gevent's monkey-patching."""
    code = (
        "import sys\n"
        + "".join(f"import loadtest.{n}\n" for n in LOCUST_FREE)
        + "print(sorted(m for m in ('locust', 'gevent') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    assert out == "[]"
