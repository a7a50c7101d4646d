"""The benchmarks run from what ships: no ``tests`` imports, and no percentile of their own."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"


def _modules() -> list[tuple[str, ast.Module]]:
    return [(path.name, ast.parse(path.read_text())) for path in sorted(BENCH.glob("*.py"))]


def test_no_benchmark_imports_the_tests() -> None:
    imported = [
        (name, node.module if isinstance(node, ast.ImportFrom) else alias.name)
        for name, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert imported, "no imports found: wrong folder?"
    assert [(n, m) for n, m in imported if m and m.split(".")[0] == "tests"] == []


def test_benchmarks_take_percentiles_from_loadtest_stats() -> None:
    own = [
        (name, node.name)
        for name, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and ("pct" in node.name or "percentile" in node.name)
    ]
    assert own == []
