"""A ~30 s headless Locust run against the real gateway and vLLM CPU engine (tiny Phi3V).

This checks that the harness works end to end, not how fast anything is: every user class
made successful requests, nothing failed, the custom TTFT/ITL entries reached Locust's
statistics, and the report was written. No timing assertions.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.loadtest.conftest import Gateway

pytestmark = pytest.mark.engine

REPO = Path(__file__).resolve().parents[3]
KINDS = ("chat", "stream", "extract", "repeat")


@dataclass
class SmokeRun:
    code: int
    out: Path
    output: str
    summary: dict[str, Any]
    stats: list[dict[str, str]]


@pytest.fixture(scope="module")
def smoke(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> SmokeRun:
    out = tmp_path_factory.mktemp("loadtest-smoke")
    cmd = [
        sys.executable,
        "-m",
        "loadtest",
        "run",
        "--host",
        gateway.base_url,
        "--users",
        str(len(KINDS)),
        "--spawn-rate",
        str(len(KINDS)),
        "--duration",
        "30s",
        "--mix",
        ",".join(KINDS),
        "--engine-metrics-url",
        gateway.engine_url + "/metrics",
        # small images, one crop, short fixed-length answers: enough work to exercise
        # every path on two CPU cores, little enough to finish inside the 30 s
        "--image-scale",
        "0.4",
        "--corpus-size",
        "6",
        "--num-crops",
        "1",
        "--max-tokens",
        "8",
        "--ignore-eos",
        "--repeat-prompts",
        "2",
        # random weights decoded greedily fill every bound of a schema; sampling ends lists
        "--extract-temperature",
        "1.0",
        "--out",
        str(out),
        "--quiet",
    ]
    env = {**os.environ, "OPENAI_API_KEY": gateway.api_key}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    summary_path = out / "summary.json"
    assert summary_path.is_file(), f"no summary.json (exit {proc.returncode}):\n{output[-3000:]}"
    with (out / "locust_stats.csv").open() as f:
        stats = list(csv.DictReader(f))
    return SmokeRun(proc.returncode, out, output, json.loads(summary_path.read_text()), stats)


def test_run_had_no_failures(smoke: SmokeRun) -> None:
    assert smoke.summary["overall"]["failed"] == 0, smoke.summary["errors"]
    assert smoke.summary["errors"] == []
    assert smoke.code == 0, smoke.output[-3000:]
    failures = [r for r in smoke.stats if int(r["Failure Count"]) > 0]
    assert failures == []


@pytest.mark.parametrize("kind", KINDS)
def test_every_user_class_made_successful_requests(smoke: SmokeRun, kind: str) -> None:
    by_kind = smoke.summary["by_kind"]
    assert kind in by_kind, f"no {kind} request in the measured window: {list(by_kind)}"
    assert by_kind[kind]["ok"] > 0


def test_ttft_and_itl_entries_were_recorded(smoke: SmokeRun) -> None:
    counts = {(r["Type"], r["Name"]): int(r["Request Count"]) for r in smoke.stats}
    for name in ("chat-stream", "repeat/first"):
        assert counts.get(("TTFT", name), 0) > 0, counts
        assert counts.get(("ITL", name), 0) > 0, counts
        assert counts.get(("TOK/S", name), 0) > 0, counts
    overall = smoke.summary["overall"]
    assert overall["ttft_ms"]["n"] > 0 and overall["itl_ms"]["n"] > 0


def test_report_and_engine_metrics_were_written(smoke: SmokeRun, gateway: Gateway) -> None:
    for name in (
        "report.md",
        "report.html",
        "summary.json",
        "config.json",
        "locust.html",
        "locust_stats_history.csv",
        "engine_metrics.json",
        "timeline.png",
    ):
        assert (smoke.out / name).is_file(), name
    engine = smoke.summary["engine"]
    assert engine["available"], engine
    assert engine["prefix_cache_queries"] > 0
    assert "## Headline" in (smoke.out / "report.md").read_text()
    for name in ("config.json", "summary.json", "locust.log"):  # the key stays in the env
        assert gateway.api_key not in (smoke.out / name).read_text(), name
