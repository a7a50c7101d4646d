"""PNG plots: a timeline for every run, latency and throughput against users for a ramp.

matplotlib runs headless (Agg). Plots read the summary and samples only, so they can be
redrawn from an output folder. Each function returns the file name it wrote, or None when
there is nothing to draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
from matplotlib.ticker import MaxNLocator  # noqa: E402

from loadtest.samples import Sample  # noqa: E402
from loadtest.stats import percentile  # noqa: E402

__all__ = ["plot_steps", "plot_timeline"]

BUCKET_S = 5.0


def plot_timeline(samples: Sequence[Sample], summary: dict[str, Any], out: Path) -> str | None:
    """Latency percentiles, requests/s and output tokens/s per 5-s bucket over the run."""
    done = [s for s in samples if s.e2e_s is not None]
    if not any(s.ok for s in done):
        return None
    t0, t_end = summary["window"]["test_start"], summary["window"]["end"]
    buckets: dict[int, list[Sample]] = {}
    for s in done:  # bucket by completion time: throughput is what finished
        buckets.setdefault(int((s.start + (s.e2e_s or 0) - t0) // BUCKET_S), []).append(s)
    xs = sorted(buckets)
    mid = [(x + 0.5) * BUCKET_S for x in xs]
    # the last bucket is usually cut short by the end of the run: divide by what it covered
    spans = [max(1e-9, min(BUCKET_S, t_end - t0 - x * BUCKET_S)) for x in xs]
    ok = [[s for s in buckets[x] if s.ok] for x in xs]
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(9, 7.5), sharex=True)
    for q, style in ((50, "-"), (90, "--"), (99, ":")):
        ax1.plot(
            mid,
            [percentile([s.e2e_s * 1000 for s in b if s.e2e_s], q) for b in ok],
            style,
            color="tab:blue",
            label=f"E2E p{q}",
        )
    ttft = [[s.ttft_s * 1000 for s in b if s.ttft_s is not None] for b in ok]
    if any(ttft):
        for q, style in ((50, "-"), (90, "--")):
            ax1.plot(
                mid, [percentile(v, q) for v in ttft], style, color="tab:orange", label=f"TTFT p{q}"
            )
    ax1.set_ylabel("latency (ms)")
    ax1.legend(fontsize=8, ncol=3)
    ax2.plot(
        mid, [len(b) / sp for b, sp in zip(ok, spans, strict=True)], color="tab:green", label="ok"
    )
    failed = [(len(buckets[x]) - len(b)) / sp for x, b, sp in zip(xs, ok, spans, strict=True)]
    if any(failed):
        ax2.plot(mid, failed, color="tab:red", label="failed")
    ax2.set_ylabel("requests/s")
    ax2.legend(fontsize=8)
    ax3.plot(
        mid,
        [sum(s.completion_tokens or 0 for s in b) / sp for b, sp in zip(ok, spans, strict=True)],
        color="tab:purple",
    )
    ax3.set_ylabel("output tokens/s")
    ax3.set_xlabel("seconds since start (by completion time)")
    warm = summary["window"]["measured_from"] - t0
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
        if warm > 0:
            ax.axvline(warm, color="grey", linestyle="--", linewidth=1)
    fig.suptitle("Over time (a dashed line marks the end of ramp-up, where measuring starts)")
    fig.tight_layout()
    name = "timeline.png"
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def plot_steps(steps: Sequence[dict[str, Any]], out: Path) -> list[str]:
    """``latency_vs_users.png`` and ``throughput_vs_users.png`` for a step ramp."""
    rows = [r for r in steps if r["requests"]]
    if not rows:
        return []
    users = [r["users"] for r in rows]
    names = []
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, key, title in zip(
        axes,
        ("ttft_ms", "itl_ms", "e2e_ms"),
        ("TTFT", "inter-token latency", "end-to-end"),
        strict=True,
    ):
        for q, style in (("p50", "o-"), ("p90", "s--"), ("p99", "^:")):
            ax.plot(users, [r[key][q] for r in rows], style, label=q)
        ax.set_title(title)
        ax.set_xlabel("users")
        ax.set_ylabel("ms")
        ax.set_ylim(bottom=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "latency_vs_users.png", dpi=110)
    plt.close(fig)
    names.append("latency_vs_users.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(users, [r["requests_per_s"] for r in rows], "o-", label="requests/s")
    ax.plot(users, [r["goodput"]["good_per_s"] for r in rows], "s--", label="good requests/s")
    ax.set_xlabel("users")
    ax.set_ylabel("requests/s")
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(
        users,
        [r["output_tokens_per_s"] for r in rows],
        "^-",
        color="tab:purple",
        label="output tokens/s (right)",
    )
    ax2.set_ylabel("output tokens/s")
    ax2.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    fig.suptitle("Throughput against users")
    fig.tight_layout()
    fig.savefig(out / "throughput_vs_users.png", dpi=110)
    plt.close(fig)
    names.append("throughput_vs_users.png")
    return names
