"""The human report (``report.md`` and ``report.html``) from ``summary.json``.

Ordered the way a reader asks: did anything go wrong (warnings), how fast and how much of it
within the SLO (headline, goodput), for which requests (by request), where does it break
(steps), why (errors, engine metrics), can the numbers be trusted (load generator), and what
produced them (settings, versions). Every latency is shown as p50 / p90 / p99: as ``ms`` below
10 s and ``s`` above, rates with two decimals, missing values as an en dash.

Each section is a function from ``summary.json`` to blocks (``loadtest.render``);
``build_blocks`` puts them in order.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from loadtest.render import Block, Bullets, Figure, Heading, Para, Table, to_html, to_markdown

__all__ = ["build_blocks", "fmt_ms", "write_report"]


def fmt_ms(value: float | None) -> str:
    """``1.23 s`` from 10 s up, ``123 ms``, ``4.5 ms``, ``0.03 ms``: two or three digits."""
    if value is None:
        return "–"
    if value >= 10_000:
        return f"{value / 1000:.2f} s"
    if value >= 10:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms" if value >= 1 else f"{value:.2f} ms"


def pcts(dist: dict[str, Any] | None) -> str:
    if not dist or not dist.get("n"):
        return "–"
    return " / ".join(fmt_ms(dist.get(q)) for q in ("p50", "p90", "p99"))


def num(value: float | None, fmt: str = "{:.2f}") -> str:
    return "–" if value is None else fmt.format(value)


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def headline(s: dict[str, Any]) -> Table:
    o, g, e = s["overall"], s["goodput"], s.get("engine") or {}
    slo = f"TTFT < {g['slo']['ttft_ms']:g} ms, mean ITL < {g['slo']['itl_ms']:g} ms" + (
        f", E2E < {g['slo']['e2e_ms']:g} ms" if g["slo"]["e2e_ms"] else ""
    )
    rows = [
        ["requests (ok / failed)", f"{o['ok']} / {o['failed']}"],
        ["requests/s", num(o["requests_per_s"])],
        ["output tokens/s", num(o["output_tokens_per_s"], "{:.1f}")],
        ["input tokens/s", num(o["input_tokens_per_s"], "{:.0f}")],
        ["TTFT p50 / p90 / p99", pcts(o["ttft_ms"])],
        ["ITL p50 / p90 / p99", pcts(o["itl_ms"])],
        ["E2E p50 / p90 / p99", pcts(o["e2e_ms"])],
        [
            f"goodput ({slo})",
            f"{pct(g['share'])} of requests (streamed: {pct(g['streamed_share'])}), "
            f"{num(g['good_per_s'])} good req/s",
        ],
    ]
    ol = s.get("open_loop")
    if ol:
        rows.insert(
            0,
            [
                "offered load (open loop)",
                f"{ol['offered_per_s']:g} req/s: {ol['arrivals']} sent, "
                f"{ol['abandoned_in_flight']} still in flight at the end",
            ],
        )
    if e.get("available"):
        rows += [
            ["prefix-cache hit rate", pct(e.get("prefix_cache_hit_rate"))],
            ["KV-cache usage peak", pct(e.get("kv_usage_peak"))],
            ["preemptions", num(e.get("preemptions"), "{:.0f}")],
            [
                "queue time (mean)",
                fmt_ms(
                    None if e.get("queue_time_mean_s") is None else e["queue_time_mean_s"] * 1000
                ),
            ],
        ]
    return Table(["metric", "value"], rows)


def by_name(s: dict[str, Any]) -> Table:
    rows = [
        [
            name,
            str(g["requests"]),
            str(g["failed"]),
            num(g["requests_per_s"]),
            pcts(g["ttft_ms"]),
            pcts(g["itl_ms"]),
            pcts(g["e2e_ms"]),
            num(g["output_tokens_per_s"], "{:.1f}"),
        ]
        for name, g in s["by_name"].items()
    ]
    return Table(
        [
            "request",
            "n",
            "failed",
            "req/s",
            "TTFT p50/p90/p99",
            "ITL p50/p90/p99",
            "E2E p50/p90/p99",
            "out tok/s",
        ],
        rows,
    )


def steps_section(s: dict[str, Any], figures: list[str]) -> list[Block]:
    rows = []
    for r in s["steps"]:
        eng = r.get("engine") or {}
        rows.append(
            [
                str(r["users"]),
                str(r["requests"]),
                str(r["failed"]),
                num(r["requests_per_s"]),
                num(r["output_tokens_per_s"], "{:.1f}"),
                pcts(r["ttft_ms"]),
                pcts(r["itl_ms"]),
                pcts(r["e2e_ms"]),
                pct(r["goodput"]["share"]),
                pct(eng.get("kv_usage_peak")),
                fmt_ms(
                    None
                    if eng.get("queue_time_mean_s") is None
                    else eng["queue_time_mean_s"] * 1000
                ),
            ]
        )
    brk = s.get("break")
    if not brk:
        top = s["steps"][-1]["users"] if s["steps"] else "?"
        verdict = (
            f"Goodput stayed at or above 90% at every step: the break point is above {top} users."
        )
    else:
        verdict = f"Latency breaks at {brk['users']} users (goodput {brk['goodput']:.0%} < 90%); "
        verdict += (
            f"the last good step was {brk['last_good_users']} users at "
            f"{num(brk['last_good_requests_per_s'])} req/s."
            if brk["last_good_users"]
            else "already the first step is over the SLO: start the ramp lower."
        )
    blocks: list[Block] = [
        Heading(2, "Step ramp"),
        Para(verdict),
        Table(
            [
                "users",
                "n",
                "failed",
                "req/s",
                "out tok/s",
                "TTFT p50/p90/p99",
                "ITL p50/p90/p99",
                "E2E p50/p90/p99",
                "goodput",
                "KV peak",
                "queue mean",
            ],
            rows,
        ),
    ]
    blocks += [
        Figure(f, f.removesuffix(".png").replace("_", " ")) for f in figures if f != "timeline.png"
    ]
    return blocks


def engine_section(e: dict[str, Any] | None) -> list[Block]:
    if e is None:
        return [
            Heading(2, "Engine (vLLM /metrics)"),
            Para(
                "Not read: pass `--engine-metrics-url http://ENGINE:8000/metrics` "
                "(vLLM's own port; the gateway's /metrics is a different thing)."
            ),
        ]
    if not e.get("available"):
        return [
            Heading(2, "Engine (vLLM /metrics)"),
            Para("Unavailable: " + "; ".join(e.get("errors") or ["no data"]), warn=True),
        ]
    return [
        Heading(2, "Engine (vLLM /metrics)"),
        Table(
            ["metric", "value"],
            [
                [
                    "prefix-cache hits / queries (tokens)",
                    num(e["prefix_cache_hits"], "{:.0f}")
                    + " / "
                    + num(e["prefix_cache_queries"], "{:.0f}"),
                ],
                ["prefix-cache hit rate", pct(e["prefix_cache_hit_rate"])],
                ["KV-cache usage peak", pct(e["kv_usage_peak"])],
                [
                    "requests running / waiting (peak)",
                    f"{num(e['running_peak'], '{:.0f}')} / {num(e['waiting_peak'], '{:.0f}')}",
                ],
                ["preemptions", num(e["preemptions"], "{:.0f}")],
                [
                    "queue time mean",
                    fmt_ms(
                        None if e["queue_time_mean_s"] is None else e["queue_time_mean_s"] * 1000
                    ),
                ],
                ["generation tokens/s (engine)", num(e["generation_tokens_per_s"], "{:.1f}")],
                ["prompt tokens/s (engine)", num(e["prompt_tokens_per_s"], "{:.0f}")],
            ],
        ),
    ]


def settings(s: dict[str, Any]) -> Table:
    cfg = s["config"]
    profile = cfg.get("engine_profile") or "not given (--engine-profile)"
    details = s.get("engine_profile_details")
    if details:
        profile += " (" + ", ".join(f"{k}={v}" for k, v in details.items()) + ")"
    return Table(
        ["setting", "value"],
        [
            ["model", cfg["model"]],
            ["num_crops", str(cfg["num_crops"]) if cfg["num_crops"] else "server default"],
            ["engine profile", profile],
            [
                "max_tokens (chat) / extract",
                f"{cfg['max_tokens']} / {cfg['extract_max_tokens'] or 'server default'}",
            ],
            ["ignore_eos (fixed output length)", str(cfg["ignore_eos"])],
            ["schemas (extract)", ", ".join(cfg["schemas"])],
            [
                "image corpus",
                f"{cfg['corpus_size']} images, seed {cfg['seed']}, scale {cfg['image_scale']:g}",
            ],
            ["repeat-image prompts per image", str(cfg["repeat_prompts"])],
            ["Locust processes", str(cfg["processes"])],
        ],
    )


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
