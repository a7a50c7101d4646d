"""The human report (``report.md`` and ``report.html``) from ``summary.json``.

Ordered the way a reader asks: did anything go wrong (warnings), how fast and how much of it
within the SLO (headline, goodput), for which requests (by request), where does it break
(steps), why (errors, engine metrics), can the numbers be trusted (load generator), and what
produced them (settings, versions). Every latency is shown as p50 / p90 / p99.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from loadtest.render import Block, Bullets, Figure, Heading, Para, Table, to_html, to_markdown
from loadtest.sections import (
    by_name,
    engine_section,
    fmt_ms,
    headline,
    pct,
    settings,
    steps_section,
)

__all__ = ["build_blocks", "fmt_ms", "write_report"]

READING_GUIDE = [
    "**TTFT** (time to first token): from sending to the first streamed content. It grows "
    "with queueing and prefill (image encoding is most of the prefill here).",
    "**ITL** (inter-token latency): each gap between streamed content events; its p99 "
    "shows decode stalls when new prefills join the batch.",
    "**E2E**: the whole request as the client waited for it. In open-loop runs all three "
    "count from the *intended* send time, so client-side waiting is included.",
    "**Goodput**: the share of requests that succeeded within the SLO. Throughput with "
    "poor goodput is capacity you cannot sell.",
    "**Prefix-cache hit rate** near the share of repeated images means the image KV is "
    "reused; **preemptions** > 0 or **KV peak** near 100% mean the KV cache is the limit.",
    "A load-generator warning means the numbers are a lower bound on performance.",
]


def _title(s: dict[str, Any]) -> str:
    cfg = s["config"]
    label = f" ({cfg['label']})" if cfg.get("label") else ""
    return f"Load test{label}: {cfg['model']} at {cfg['host']}"


def _describe_load(cfg: dict[str, Any]) -> str:
    mix = ", ".join(f"{k} {w:g}" for k, w in cfg["mix"].items() if w > 0)
    if cfg["shape"] == "open":
        load = (
            f"open loop at {cfg['rate']:g} requests/s ({cfg['arrival']} arrivals, at most "
            f"{cfg['max_inflight']} in flight) for {cfg['duration_s']:g} s"
        )
    elif cfg["shape"] == "step":
        load = (
            f"step ramp to {cfg['users']} users, +{cfg['step_users']} every "
            f"{cfg['step_duration_s']:g} s"
        )
    else:
        load = (
            f"{cfg['users']} closed-loop users for {cfg['duration_s']:g} s "
            f"(spawn rate {cfg['spawn_rate']:g}/s, think time {cfg['think_time_s']:g} s)"
        )
    return f"Load: {load}. Mix: {mix}."


def build_blocks(s: dict[str, Any], figures: list[str]) -> list[Block]:
    cfg, w = s["config"], s["window"]
    when = dt.datetime.fromtimestamp(w["test_start"], dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    blocks: list[Block] = [
        Heading(1, _title(s)),
        Para(
            f"{when}. {_describe_load(cfg)} Measured window: {w['measured_s']:.0f} s "
            f"(after {w['warmup_s']:.0f} s of ramp-up, whose {w['warmup_requests']} requests "
            "are left out)."
        ),
    ]
    if s["warnings"]:
        blocks += [Heading(2, "Warnings"), Bullets(s["warnings"], warn=True)]
    blocks += [Heading(2, "Headline"), headline(s), Heading(2, "By request"), by_name(s)]
    if "timeline.png" in figures:
        blocks.append(Figure("timeline.png", "latency and throughput over time"))
    if s.get("steps") is not None:
        blocks += steps_section(s, figures)
    blocks.append(Heading(2, "Errors by type"))
    if s["errors"]:
        blocks.append(
            Table(
                ["type", "count", "requests", "example"],
                [
                    [e["type"], str(e["count"]), ", ".join(e["requests"]), e["example"][:120]]
                    for e in s["errors"]
                ],
            )
        )
    else:
        blocks.append(Para("None."))
    blocks += engine_section(s.get("engine"))
    blocks += [
        Heading(2, "Load generator"),
        Table(
            ["process", "role", "CPU mean", "CPU peak (5 s)", "Locust CPU warnings"],
            [
                [
                    str(p["pid"]),
                    p["role"],
                    pct(p["cpu"].get("mean")),
                    pct(p["cpu"].get("peak")),
                    str(p["locust_cpu_warnings"]),
                ]
                for p in s["load_generator"]
            ],
        ),
    ]
    blocks += [
        Heading(2, "Settings"),
        settings(s),
        Heading(2, "Versions"),
        Table(
            ["component", "version"],
            [[k, str(v) if v else "unknown"] for k, v in s["versions"].items()],
        ),
        Heading(2, "How to read this report"),
        Bullets(READING_GUIDE),
        Para(
            "Raw material in this folder: `summary.json` (all numbers above), "
            "`samples-*.json` (every request), `locust_stats.csv`, "
            "`locust_stats_history.csv`, `locust_failures.csv`, `locust.html`, "
            "`engine_metrics.json`, `config.json`, `locust.log`."
        ),
    ]
    return blocks


def write_report(summary: dict[str, Any], out: Path, figures: list[str]) -> tuple[Path, Path]:
    """``report.md`` and ``report.html`` in ``out``; returns both paths."""
    blocks = build_blocks(summary, figures)
    md, page = out / "report.md", out / "report.html"
    md.write_text(to_markdown(blocks))
    page.write_text(to_html(blocks, _title(summary)))
    return md, page
