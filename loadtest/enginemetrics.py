"""vLLM's own view of the run, from its ``/metrics`` before, during and after the load.

Client-side latency says *that* the stack slowed down; the engine's counters say *why*: the
prefix cache stopped hitting, the KV cache filled up and requests were preempted, or requests
queued before being scheduled. A background thread in the CLI scrapes every engine every
``metrics_interval_s``; any window (the whole measured run, or one step of a ramp) then reads
its counters as the difference between the snapshots around it, and its gauges (KV usage,
running, waiting) as the peak of the snapshots inside it.

    sampler = EngineSampler(["http://127.0.0.1:8000/metrics"], interval_s=2.0)
    sampler.start();  ...;  sampler.stop()
    engine_summary(sampler.snapshots, t_from, t_to)["prefix_cache_hit_rate"]

The text format is read by ``prometheus_client``'s parser; ``total`` sums one metric over the
label sets (engines, models) a page holds.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

__all__ = [
    "COUNTERS",
    "GAUGES",
    "EngineSampler",
    "Snapshot",
    "engine_summary",
    "parse_metrics",
    "scrape",
    "snapshot_from_samples",
    "snapshot_from_text",
    "total",
]

COUNTERS = {
    "prefix_hits": "vllm:prefix_cache_hits_total",
    "prefix_queries": "vllm:prefix_cache_queries_total",
    "preemptions": "vllm:num_preemptions_total",
    "queue_sum": "vllm:request_queue_time_seconds_sum",
    "queue_count": "vllm:request_queue_time_seconds_count",
    "prompt_tokens": "vllm:prompt_tokens_total",
    "generation_tokens": "vllm:generation_tokens_total",
}
GAUGES = {
    "kv_usage": "vllm:kv_cache_usage_perc",  # a fraction 0..1 despite the name
    "running": "vllm:num_requests_running",
    "waiting": "vllm:num_requests_waiting",
}


@dataclass
class Snapshot:
    """Counter and gauge values of all engines at wall time ``t``."""

    t: float
    values: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def parse_metrics(text: str) -> list[Sample]:
    """Every sample of a Prometheus text page; ValueError if it is not one."""
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def total(samples: list[Sample], name: str, **match: str) -> float | None:
    """Sum of ``name`` over label sets that contain ``match``; None if there is none."""
    values = [
        s.value
        for s in samples
        if s.name == name
        and all(s.labels.get(k) == v for k, v in match.items())
        and not math.isnan(s.value)
    ]
    return sum(values) if values else None


def snapshot_from_text(texts: list[str], t: float) -> Snapshot:
    """`snapshot_from_samples` of Prometheus text pages."""
    return snapshot_from_samples([parse_metrics(text) for text in texts], t)


def snapshot_from_samples(pages: list[list[Sample]], t: float) -> Snapshot:
    """Merge several engines' metrics: counters and running/waiting add up; KV usage is
    the highest engine's (the peak that matters is the fullest replica)."""
    snap = Snapshot(t)
    for samples in pages:
        for key, name in {**COUNTERS, **GAUGES}.items():
            value = total(samples, name)
            if key == "kv_usage":
                values = [s.value for s in samples if s.name == name]
                value = max(values) if values else None
                if value is not None:
                    snap.values[key] = max(value, snap.values.get(key, 0.0))
            elif value is not None:
                snap.values[key] = snap.values.get(key, 0.0) + value
    return snap


def scrape(urls: list[str], timeout: float = 5.0) -> Snapshot:
    """One snapshot of every engine; unreachable or unreadable ones are noted, not raised."""
    pages, errors = [], []
    for url in urls:
        try:
            resp = httpx.get(url, timeout=timeout)
            resp.raise_for_status()
            pages.append(parse_metrics(resp.text))
        except httpx.HTTPError as exc:
            errors.append(f"{url}: {type(exc).__name__}: {exc}"[:200])
        except ValueError as exc:
            errors.append(f"{url}: not Prometheus text: {exc}"[:200])
    snap = snapshot_from_samples(pages, time.time())
    snap.errors = errors
    return snap


class EngineSampler:
    """Scrapes the engines on a thread every ``interval_s`` until `stop`."""

    def __init__(self, urls: list[str], interval_s: float = 2.0) -> None:
        self.urls = urls
        self.interval_s = interval_s
        self.snapshots: list[Snapshot] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="engine-metrics", daemon=True)

    def start(self) -> None:
        if self.urls:
            self.snapshots.append(scrape(self.urls))
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.snapshots.append(scrape(self.urls))

    def stop(self) -> None:
        if not self.urls:
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.snapshots.append(scrape(self.urls))

    def latest(self) -> Snapshot | None:
        return self.snapshots[-1] if self.snapshots else None


def _delta(before: Snapshot, after: Snapshot, key: str) -> float | None:
    if key not in before.values or key not in after.values:
        return None
    return max(0.0, after.values[key] - before.values[key])


def engine_summary(snapshots: list[Snapshot], t_from: float, t_to: float) -> dict[str, Any]:
    """Counters as differences across [t_from, t_to], gauges as peaks inside it."""
    good = [s for s in snapshots if s.values]
    if not good:
        errors = sorted({e for s in snapshots for e in s.errors})
        return {"available": False, "errors": errors[:5]}
    before = max((s for s in good if s.t <= t_from), key=lambda s: s.t, default=good[0])
    after = min((s for s in good if s.t >= t_to), key=lambda s: s.t, default=good[-1])
    inside = [s for s in good if before.t <= s.t <= after.t] or [after]
    d = {key: _delta(before, after, key) for key in COUNTERS}
    span = after.t - before.t
    out: dict[str, Any] = {
        "available": True,
        "window_s": round(span, 3),
        "prefix_cache_hits": d["prefix_hits"],
        "prefix_cache_queries": d["prefix_queries"],
        "prefix_cache_hit_rate": (
            d["prefix_hits"] / d["prefix_queries"]
            if d["prefix_hits"] is not None and d["prefix_queries"]
            else None
        ),
        "preemptions": d["preemptions"],
        "queue_time_mean_s": (
            d["queue_sum"] / d["queue_count"]
            if d["queue_sum"] is not None and d["queue_count"]
            else None
        ),
        "requests_finished": d["queue_count"],
        "generation_tokens_per_s": (
            d["generation_tokens"] / span
            if d["generation_tokens"] is not None and span > 0
            else None
        ),
        "prompt_tokens_per_s": (
            d["prompt_tokens"] / span if d["prompt_tokens"] is not None and span > 0 else None
        ),
    }
    for key in GAUGES:
        values = [s.values[key] for s in inside if key in s.values]
        out[f"{key}_peak"] = max(values) if values else None
    out["errors"] = sorted({e for s in snapshots for e in s.errors})[:5]
    return out
