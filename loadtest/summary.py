"""The run's summary (``summary.json``): what the report shows, as data.

Everything is computed from the raw samples and engine snapshots, so the report can be rebuilt
from an output folder (``python -m loadtest report OUT``) and two runs can be diffed as JSON.

The *measured window* starts when Locust finished spawning users (``--reset-stats``: the
ramp-up is not measured) and ends when the last Locust process stopped. The step ramp keeps
every sample instead, and cuts the run into its steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loadtest.config import RunConfig
from loadtest.cpumeter import SATURATED, is_saturated
from loadtest.enginemetrics import Snapshot, engine_summary
from loadtest.samples import Sample
from loadtest.stats import errors_by_type, goodput, group_stats

__all__ = ["SUMMARY_VERSION", "find_break", "step_table", "summarize"]

SUMMARY_VERSION = 1
BREAK_GOODPUT = 0.9
"""A step "breaks" when fewer than this share of its requests meet the SLO."""


def _window(
    metas: Sequence[dict[str, Any]], samples: Sequence[Sample]
) -> tuple[float, float, float]:
    """(test start, measured-from, end) in wall time."""
    starts = [m["test_start"] for m in metas if m.get("test_start")]
    stops = [m["test_stop"] for m in metas if m.get("test_stop")]
    measure = [m["measure_from"] for m in metas if m.get("measure_from")]
    first = min(starts, default=samples[0].start if samples else 0.0)
    end = max(stops, default=max((s.start + (s.e2e_s or 0) for s in samples), default=first))
    return first, min(measure, default=first), end


def step_table(
    cfg: RunConfig,
    samples: Sequence[Sample],
    test_start: float,
    end: float,
    snapshots: Sequence[Snapshot],
) -> list[dict[str, Any]]:
    """One row per ramp step: users, throughput, latency percentiles, goodput, engine."""
    levels = cfg.step_levels()
    rows = []
    for i, users in enumerate(levels):
        t0 = test_start + i * cfg.step_duration_s
        t1 = min(end, t0 + cfg.step_duration_s)
        if t1 <= t0:
            break
        group = [s for s in samples if cfg.step_index(s.start - test_start) == i]
        span = t1 - t0
        row = {
            "step": i,
            "users": users,
            "start": t0,
            "span_s": span,
            **group_stats(group, span),
            "goodput": goodput(group, cfg, span),
        }
        if snapshots:
            row["engine"] = engine_summary(list(snapshots), t0, t1)
        rows.append(row)
    return rows


def find_break(steps: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The first step whose goodput fell below `BREAK_GOODPUT`, and the best step before it."""
    best: dict[str, Any] | None = None
    for row in steps:
        share = row["goodput"]["share"]
        if share is not None and share < BREAK_GOODPUT:
            return {
                "users": row["users"],
                "step": row["step"],
                "goodput": share,
                "last_good_users": best["users"] if best else None,
                "last_good_requests_per_s": best["requests_per_s"] if best else None,
            }
        if row["requests"]:
            best = row
    return None


def _open_loop(
    cfg: RunConfig, metas: Sequence[dict[str, Any]], span: float, overall: dict[str, Any]
) -> dict[str, Any] | None:
    """Offered against achieved load: an open loop that cannot keep up leaves requests
    unanswered at the end, and those are exactly the slowest ones."""
    if cfg.shape != "open":
        return None
    arrivals = sum(m.get("arrivals") or 0 for m in metas)
    abandoned = sum(m.get("abandoned") or 0 for m in metas)
    return {
        "offered_per_s": cfg.rate,
        "arrivals": arrivals,
        "abandoned_in_flight": abandoned,
        "achieved_per_s": overall["requests_per_s"],
        "span_s": span,
    }


def _warnings(
    cfg: RunConfig,
    processes: list[dict[str, Any]],
    overall: dict[str, Any],
    engine: dict[str, Any] | None,
    notes: list[str],
    open_loop: dict[str, Any] | None,
) -> list[str]:
    out = list(notes)
    mean_e2e = (overall["e2e_ms"]["mean"] or 0.0) / 1000
    # Little's law: a keeping-up server holds about rate x latency requests in flight
    if open_loop and open_loop["abandoned_in_flight"] > 2 * cfg.rate * mean_e2e + 2:
        out.append(
            f"the stack did not keep up with {cfg.rate:g} requests/s: "
            f"{open_loop['abandoned_in_flight']} of {open_loop['arrivals']} requests "
            f"were still in flight at the end (about {cfg.rate * mean_e2e:.0f} would be "
            "normal); they are missing from the latencies, which are therefore low."
        )
    for proc in processes:
        if is_saturated(proc["cpu"]):
            out.append(
                f"load generator saturated: Locust process {proc['pid']} ({proc['role']}) used "
                f"{proc['cpu']['mean']:.0%} of a core on average, peak {proc['cpu']['peak']:.0%} "
                f"(> {SATURATED:.0%}); latencies include client-side delay. Re-run with "
                "--processes N (one per free core) or on a bigger machine."
            )
    lag = overall.get("lag_ms")
    if lag and lag.get("p99") is not None and lag["p99"] > 100:
        out.append(
            f"open loop fell behind its schedule: p99 send lag {lag['p99']:.0f} ms "
            "(connection cap --max-inflight or a busy generator); latencies include it."
        )
    if overall["requests"] == 0:
        out.append(
            "no request completed inside the measured window: run longer "
            "(DURATION) or check that the stack answers."
        )
    if overall["failed"]:
        out.append(
            f"{overall['failed']} of {overall['requests']} requests failed; see 'Errors by type'."
        )
    if cfg.engine_metrics_urls and engine is not None and not engine.get("available"):
        out.append("engine metrics unavailable: " + "; ".join(engine.get("errors") or ["?"]))
    return out


def summarize(
    cfg: RunConfig,
    samples: Sequence[Sample],
    metas: Sequence[dict[str, Any]],
    snapshots: Sequence[Snapshot],
    versions: dict[str, Any],
    notes: Sequence[str] = (),
    exit_code: int | None = None,
) -> dict[str, Any]:
    """Assemble ``summary.json`` from one run's raw material."""
    test_start, measured_from, end = _window(metas, samples)
    if cfg.shape == "step":
        measured_from = test_start  # every step counts; steps are reported one by one
    span = max(0.0, end - measured_from)
    measured = [s for s in samples if s.start >= measured_from]
    names = sorted({s.name for s in measured})
    processes = [
        {
            "pid": m.get("pid"),
            "role": m.get("role", "local"),
            "cpu": m.get("cpu", {}),
            "locust_cpu_warnings": m.get("locust_cpu_warnings", 0),
        }
        for m in metas
    ]
    overall = group_stats(measured, span)
    engine = engine_summary(list(snapshots), measured_from, end) if snapshots else None
    summary: dict[str, Any] = {
        "summary_version": SUMMARY_VERSION,
        "config": cfg.to_json(),
        "versions": versions,
        "window": {
            "test_start": test_start,
            "measured_from": measured_from,
            "end": end,
            "measured_s": span,
            "warmup_s": measured_from - test_start,
            "warmup_requests": len(samples) - len(measured),
        },
        "overall": overall,
        "by_kind": {
            k: group_stats([s for s in measured if s.kind == k], span)
            for k in cfg.weights()
            if any(s.kind == k for s in measured)
        },
        "by_name": {n: group_stats([s for s in measured if s.name == n], span) for n in names},
        "goodput": goodput(measured, cfg, span),
        "errors": errors_by_type(measured),
        "engine": engine,
        "load_generator": processes,
        "locust_exit_code": exit_code,
        "notes": list(notes),
        "open_loop": _open_loop(cfg, metas, span, overall),
    }
    if cfg.shape == "step":
        summary["steps"] = step_table(cfg, samples, test_start, end, snapshots)
        summary["break"] = find_break(summary["steps"])
    summary["warnings"] = _warnings(
        cfg, processes, overall, engine, list(notes), summary["open_loop"]
    )
    return summary
