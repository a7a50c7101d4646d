"""Reading vLLM's /metrics page and the engine summary over a window of snapshots."""

from __future__ import annotations

import pytest

from loadtest.enginemetrics import engine_summary, parse_metrics, snapshot_from_text, total

BEFORE = """\
# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine="0",model_name="phi-3.5-vision"} 1000.0
vllm:prefix_cache_queries_total{engine="0",model_name="phi-3.5-vision"} 4000.0
vllm:kv_cache_usage_perc{engine="0",model_name="phi-3.5-vision"} 0.05
vllm:num_preemptions_total{engine="0",model_name="phi-3.5-vision"} 2.0
vllm:request_queue_time_seconds_bucket{engine="0",le="0.3",model_name="phi-3.5-vision"} 9.0
vllm:request_queue_time_seconds_sum{engine="0",model_name="phi-3.5-vision"} 1.5
vllm:request_queue_time_seconds_count{engine="0",model_name="phi-3.5-vision"} 10.0
vllm:num_requests_running{engine="0",model_name="phi-3.5-vision"} 0.0
vllm:generation_tokens_total{engine="0",model_name="phi-3.5-vision"} 100.0
"""
DURING = BEFORE.replace(
    'kv_cache_usage_perc{engine="0",model_name="phi-3.5-vision"} 0.05',
    'kv_cache_usage_perc{engine="0",model_name="phi-3.5-vision"} 0.62',
)
AFTER = """\
vllm:prefix_cache_hits_total{engine="0",model_name="phi-3.5-vision"} 4000.0
vllm:prefix_cache_queries_total{engine="0",model_name="phi-3.5-vision"} 8000.0
vllm:kv_cache_usage_perc{engine="0",model_name="phi-3.5-vision"} 0.10
vllm:num_preemptions_total{engine="0",model_name="phi-3.5-vision"} 5.0
vllm:request_queue_time_seconds_sum{engine="0",model_name="phi-3.5-vision"} 3.5
vllm:request_queue_time_seconds_count{engine="0",model_name="phi-3.5-vision"} 30.0
vllm:generation_tokens_total{engine="0",model_name="phi-3.5-vision"} 1100.0
"""


def test_parse_labels_with_escapes_and_braces() -> None:
    text = (
        '# TYPE x gauge\nx{path="/a{b}",msg="say \\"hi\\", ok"} 3.5 1712345678\ny 2\nz{a="1"} NaN\n'
    )
    samples = parse_metrics(text)
    assert samples[0].name == "x"
    assert samples[0].labels == {"path": "/a{b}", "msg": 'say "hi", ok'}
    assert samples[0].value == 3.5
    assert total(samples, "y") == 2.0
    assert total(samples, "z") is None  # NaN only
    assert total(samples, "missing") is None
    assert [s.name for s in samples] == ["x", "y", "z"]


def test_a_page_that_is_not_prometheus_text_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_metrics('broken{a="1" nope\n')


def test_total_sums_label_sets_and_filters() -> None:
    samples = parse_metrics('c{engine="0"} 1\nc{engine="1"} 2\n')
    assert total(samples, "c") == 3.0
    assert total(samples, "c", engine="1") == 2.0


def test_summary_takes_counter_deltas_and_gauge_peaks() -> None:
    snaps = [
        snapshot_from_text([BEFORE], 100.0),
        snapshot_from_text([DURING], 110.0),
        snapshot_from_text([AFTER], 120.0),
    ]
    s = engine_summary(snaps, t_from=100.0, t_to=120.0)
    assert s["available"]
    assert s["prefix_cache_hits"] == 3000 and s["prefix_cache_queries"] == 4000
    assert s["prefix_cache_hit_rate"] == pytest.approx(0.75)
    assert s["preemptions"] == 3
    assert s["queue_time_mean_s"] == pytest.approx(2.0 / 20)
    assert s["kv_usage_peak"] == pytest.approx(0.62)
    assert s["generation_tokens_per_s"] == pytest.approx(1000 / 20)


def test_window_picks_the_snapshots_around_it() -> None:
    snaps = [
        snapshot_from_text([BEFORE], 100.0),
        snapshot_from_text([DURING], 110.0),
        snapshot_from_text([AFTER], 120.0),
    ]
    # a window that ends before the last scrape uses the DURING snapshot as "after"
    s = engine_summary(snaps, t_from=101.0, t_to=109.0)
    assert s["prefix_cache_hits"] == 0
    assert s["kv_usage_peak"] == pytest.approx(0.62)


def test_two_engines_add_counters_and_keep_the_fuller_kv() -> None:
    other = BEFORE.replace("0.05", "0.40").replace("1000.0", "500.0")
    snap = snapshot_from_text([BEFORE, other], 1.0)
    assert snap.values["prefix_hits"] == 1500.0
    assert snap.values["kv_usage"] == pytest.approx(0.40)


def test_no_data_is_reported_as_unavailable() -> None:
    snap = snapshot_from_text([], 1.0)
    snap.errors = ["http://x/metrics: ConnectError"]
    s = engine_summary([snap], 0.0, 2.0)
    assert s == {"available": False, "errors": ["http://x/metrics: ConnectError"]}
