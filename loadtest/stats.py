"""Exact statistics over samples: percentiles, throughput, goodput, errors by type.

Percentiles interpolate linearly between order statistics (NumPy's default), so a p99 over
few samples is an honest in-between value rather than Locust's bucketed one. Latencies are
reported in milliseconds, throughput per second of the window the samples came from.
``percentile`` is the project's one percentile: the benchmarks (``bench/``) use it too.

Goodput is the share of requests that succeeded *and* met the user's SLO: TTFT below
``slo_ttft_ms`` and the request's mean inter-token latency below ``slo_itl_ms`` (both only
for streamed requests, where they exist), and, if set, end-to-end below ``slo_e2e_ms``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from loadtest.config import RunConfig
from loadtest.samples import Sample

__all__ = ["distribution", "errors_by_type", "group_stats", "meets_slo", "percentile", "goodput"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def distribution(seconds: Iterable[float | None]) -> dict[str, float | int | None]:
    """n, mean, p50, p90, p99 and max, in milliseconds."""
    ms = [v * 1000.0 for v in seconds if v is not None]
    out: dict[str, float | int | None] = {"n": len(ms)}
    out["mean"] = sum(ms) / len(ms) if ms else None
    for q in (50, 90, 99):
        out[f"p{q}"] = percentile(ms, q)
    out["max"] = max(ms) if ms else None
    return out


def meets_slo(sample: Sample, cfg: RunConfig) -> bool:
    """Did this request succeed within every SLO that applies to it?"""
    if not sample.ok:
        return False
    if sample.ttft_s is not None and sample.ttft_s * 1000 > cfg.slo_ttft_ms:
        return False
    if sample.itl_s and sum(sample.itl_s) / len(sample.itl_s) * 1000 > cfg.slo_itl_ms:
        return False
    return not (
        cfg.slo_e2e_ms is not None
        and sample.e2e_s is not None
        and sample.e2e_s * 1000 > cfg.slo_e2e_ms
    )


def goodput(samples: Sequence[Sample], cfg: RunConfig, span_s: float) -> dict[str, Any]:
    """Share and rate of requests within the SLO; streamed requests also on their own."""
    streamed = [s for s in samples if s.kind in ("stream", "repeat")]
    good = sum(meets_slo(s, cfg) for s in samples)
    good_streamed = sum(meets_slo(s, cfg) for s in streamed)
    return {
        "slo": {"ttft_ms": cfg.slo_ttft_ms, "itl_ms": cfg.slo_itl_ms, "e2e_ms": cfg.slo_e2e_ms},
        "total": len(samples),
        "good": good,
        "share": good / len(samples) if samples else None,
        "good_per_s": good / span_s if span_s > 0 else None,
        "streamed_total": len(streamed),
        "streamed_good": good_streamed,
        "streamed_share": good_streamed / len(streamed) if streamed else None,
    }


def group_stats(samples: Sequence[Sample], span_s: float) -> dict[str, Any]:
    """Counts, throughput and latency distributions of one group of requests."""
    ok = [s for s in samples if s.ok]
    out_tokens = sum(s.completion_tokens or 0 for s in ok)
    in_tokens = sum(s.prompt_tokens or 0 for s in ok)
    per_request_tps = [s.completion_tokens / s.e2e_s for s in ok if s.completion_tokens and s.e2e_s]
    lags = [s.lag_s for s in samples if s.lag_s is not None]
    return {
        "requests": len(samples),
        "ok": len(ok),
        "failed": len(samples) - len(ok),
        "requests_per_s": len(ok) / span_s if span_s > 0 else None,
        "output_tokens": out_tokens,
        "output_tokens_per_s": out_tokens / span_s if span_s > 0 else None,
        "input_tokens_per_s": in_tokens / span_s if span_s > 0 else None,
        "ttft_ms": distribution(s.ttft_s for s in ok),
        "itl_ms": distribution(gap for s in ok for gap in s.itl_s),
        "e2e_ms": distribution(s.e2e_s for s in ok),
        "tokens_per_s_per_request": {
            "n": len(per_request_tps),
            "mean": sum(per_request_tps) / len(per_request_tps) if per_request_tps else None,
            "p50": percentile(per_request_tps, 50),
        },
        "lag_ms": distribution(lags) if lags else None,
    }


def errors_by_type(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """Failed requests grouped by error type, most frequent first, with one example each."""
    failed = [s for s in samples if not s.ok]
    counts = Counter(s.error or "unknown" for s in failed)
    rows = []
    for error, count in counts.most_common():
        group = [s for s in failed if (s.error or "unknown") == error]
        rows.append(
            {
                "type": error,
                "count": count,
                "requests": sorted({s.name for s in group}),
                "example": group[0].message or "",
            }
        )
    return rows
