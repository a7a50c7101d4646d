"""The examples in the modules' docstrings run, so that they stay true.

A ``>>>`` example is a claim about the code; this runs every one of them in ``serve``,
``gateway``, ``schemas`` and ``loadtest`` (what ``pytest --doctest-modules`` would do, but
inside ``make test`` and ``make test-unit``). A usage sketch that needs a server or a model
folder is written as an indented block without ``>>>``, and is not run.

Modules that import Locust are left out: Locust monkey-patches the whole process with gevent
when it is imported, which breaks every test after it (their own tests run them in a
subprocess).
"""

from __future__ import annotations

import ast
import doctest
import importlib
import io
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("serve", "gateway", "schemas", "loadtest")
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _imports_locust(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        if any(name.split(".")[0] == "locust" for name in names):
            return True
    return False


def _modules_with_examples() -> list[str]:
    """Every module of the packages whose source holds a ``>>>`` (read, not imported)."""
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if path.stem == "__main__" or ">>>" not in path.read_text():
                continue
            if _imports_locust(path):
                continue
            parts = path.relative_to(REPO).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


MODULES = _modules_with_examples()


def test_the_packages_have_examples_to_run() -> None:
    """A guard against collecting nothing (a moved package, a broken walk)."""
    assert len(MODULES) >= 15, MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name: str) -> None:
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder().find(module, name)
    examples = sum(len(t.examples) for t in tests)
    assert examples > 0, f"{name} has '>>>' in its source but no example doctest can find"
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in tests:
        runner.run(test, out=out.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, out.getvalue()
