"""Summary numbers, goodput, the step table and the written report, from canned samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest.config import RunConfig
from loadtest.enginemetrics import snapshot_from_text
from loadtest.report import write_report
from loadtest.samples import Sample
from loadtest.stats import goodput, meets_slo, percentile
from loadtest.summary import summarize

T0 = 1_700_000_000.0
META = {
    "pid": 11,
    "role": "local",
    "test_start": T0,
    "measure_from": T0 + 10,
    "test_stop": T0 + 110,
    "cpu": {"mean": 0.2, "peak": 0.3, "windows": 20, "saturated_windows": 0},
}
METRICS = (
    "vllm:prefix_cache_hits_total {h}\nvllm:prefix_cache_queries_total {q}\n"
    "vllm:kv_cache_usage_perc {kv}\nvllm:num_preemptions_total 0\n"
)


def stream(
    t: float, ttft: float, itl: float, ok: bool = True, name: str = "chat-stream", users: int = 4
) -> Sample:
    return Sample(
        "stream" if name == "chat-stream" else "repeat",
        name,
        T0 + t,
        ok,
        e2e_s=ttft + 4 * itl,
        ttft_s=ttft,
        itl_s=[itl] * 4,
        prompt_tokens=800,
        completion_tokens=5,
        users=users,
        error=None if ok else "stream_error/upstream_error",
        message=None if ok else "engine died",
    )


def canned() -> list[Sample]:
    samples = [stream(5, 0.2, 0.02)]  # ramp-up: left out of the measured window
    samples += [stream(10 + i, 0.3 + 0.01 * i, 0.02) for i in range(20)]
    samples += [stream(40, 3.0, 0.02), stream(41, 0.3, 0.5), stream(42, 0.3, 0.02, ok=False)]
    samples += [
        Sample(
            "chat", "chat", T0 + 50 + i, True, e2e_s=1.0, prompt_tokens=780, completion_tokens=20
        )
        for i in range(5)
    ]
    samples += [
        Sample(
            "extract",
            "extract/scene",
            T0 + 60,
            False,
            e2e_s=0.01,
            status=429,
            error="http_429/rate_limited",
            message="slow down",
        )
    ]
    return samples


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([1, 2, 3, 4, 5], 50) == 3
    assert percentile([1, 2, 3, 4, 5], 90) == pytest.approx(4.6)
    assert percentile([7], 99) == 7 and percentile([], 50) is None


def test_goodput_counts_each_slo_breach() -> None:
    cfg = RunConfig(slo_ttft_ms=2000, slo_itl_ms=100)
    assert meets_slo(stream(0, 0.3, 0.02), cfg)
    assert not meets_slo(stream(0, 3.0, 0.02), cfg)  # TTFT
    assert not meets_slo(stream(0, 0.3, 0.5), cfg)  # mean ITL
    assert not meets_slo(stream(0, 0.3, 0.02, ok=False), cfg)
    chat = Sample("chat", "chat", T0, True, e2e_s=5.0)
    assert meets_slo(chat, cfg)  # no TTFT/ITL to judge
    assert not meets_slo(chat, RunConfig(slo_e2e_ms=1000))
    g = goodput([stream(0, 0.3, 0.02), stream(0, 3.0, 0.02), chat], cfg, span_s=10)
    assert (g["good"], g["total"], g["streamed_good"], g["streamed_total"]) == (2, 3, 1, 2)
    assert g["good_per_s"] == pytest.approx(0.2)


def test_summary_of_a_fixed_run() -> None:
    snaps = [
        snapshot_from_text([METRICS.format(h=0, q=0, kv=0.0)], T0 + 9),
        snapshot_from_text([METRICS.format(h=300, q=400, kv=0.8)], T0 + 50),
        snapshot_from_text([METRICS.format(h=600, q=800, kv=0.1)], T0 + 111),
    ]
    s = summarize(RunConfig(), canned(), [META], snaps, {"locust": "2.47.0"})
    o = s["overall"]
    assert s["window"]["measured_s"] == 100 and s["window"]["warmup_requests"] == 1
    assert (o["requests"], o["ok"], o["failed"]) == (29, 27, 2)
    assert o["requests_per_s"] == pytest.approx(0.27)
    assert o["output_tokens_per_s"] == pytest.approx((22 * 5 + 5 * 20) / 100)
    assert o["ttft_ms"]["n"] == 22 and o["itl_ms"]["n"] == 88
    assert s["by_name"]["chat"]["ttft_ms"]["n"] == 0
    assert sorted((e["type"], e["count"]) for e in s["errors"]) == [
        ("http_429/rate_limited", 1),
        ("stream_error/upstream_error", 1),
    ]
    assert s["goodput"]["good"] == 25  # 27 ok minus one TTFT and one ITL breach
    assert s["engine"]["prefix_cache_hit_rate"] == pytest.approx(0.75)
    assert s["engine"]["kv_usage_peak"] == pytest.approx(0.8)
    assert any("2 of 29 requests failed" in w for w in s["warnings"])


def test_saturated_generator_is_warned_about() -> None:
    hot = {**META, "cpu": {"mean": 0.97, "peak": 1.0, "windows": 20, "saturated_windows": 18}}
    s = summarize(RunConfig(), canned(), [hot], [], {})
    assert any("load generator saturated" in w for w in s["warnings"])


def test_step_run_finds_the_break() -> None:
    cfg = RunConfig(shape="step", users=6, step_users=2, step_duration_s=30)
    samples = [stream(t, 0.3, 0.02, users=2) for t in range(0, 30, 3)]
    samples += [stream(t, 0.5, 0.03, users=4) for t in range(30, 60, 2)]
    samples += [stream(t, 2.5, 0.03, users=6) for t in range(60, 90, 2)]
    meta = {**META, "measure_from": T0 + 1, "test_stop": T0 + 90}
    s = summarize(cfg, samples, [meta], [], {})
    assert [r["users"] for r in s["steps"]] == [2, 4, 6]
    assert [r["requests"] for r in s["steps"]] == [10, 15, 15]
    assert s["steps"][1]["requests_per_s"] == pytest.approx(15 / 30)
    assert s["break"]["users"] == 6 and s["break"]["last_good_users"] == 4


def test_report_files_show_the_numbers(tmp_path: Path) -> None:
    cfg = RunConfig(model="phi-3.5-vision", num_crops=4, engine_profile="h100-80g", label="unit")
    snaps = [
        snapshot_from_text([METRICS.format(h=0, q=0, kv=0.0)], T0 + 9),
        snapshot_from_text([METRICS.format(h=600, q=800, kv=0.42)], T0 + 111),
    ]
    s = summarize(cfg, canned(), [META], snaps, {"locust": "2.47.0", "vllm": "0.32.0"})
    json.dumps(s)  # summary.json must serialise
    md_path, html_path = write_report(s, tmp_path, figures=[])
    md = md_path.read_text()
    for needle in (
        "# Load test (unit): phi-3.5-vision",
        "## Headline",
        "| requests/s | 0.27 |",
        "http_429/rate_limited",
        "| prefix-cache hit rate | 75.0% |",
        "| KV-cache usage peak | 42.0% |",
        "goodput (TTFT < 2000 ms",
        "0.32.0",
        "| num_crops | 4 |",
        "h100-80g",
        "2 of 29 requests failed",
    ):
        assert needle in md, needle
    page = html_path.read_text()
    assert page.startswith("<!doctype html>") and "<table>" in page
    assert "http_429/rate_limited" in page and "<strong>TTFT</strong>" in page


def test_plots_are_written(tmp_path: Path) -> None:
    from loadtest.plots import plot_steps, plot_timeline

    cfg = RunConfig(shape="step", users=4, step_users=2, step_duration_s=30)
    samples = [stream(t, 0.3, 0.02, users=2) for t in range(0, 60, 2)]
    s = summarize(cfg, samples, [{**META, "test_stop": T0 + 60}], [], {})
    assert plot_timeline(samples, s, tmp_path) == "timeline.png"
    assert plot_steps(s["steps"], tmp_path) == ["latency_vs_users.png", "throughput_vs_users.png"]
    for name in ("timeline.png", "latency_vs_users.png", "throughput_vs_users.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
