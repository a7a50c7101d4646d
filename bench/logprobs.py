"""What per-field confidence costs: decode tokens/s with and without ``logprobs``.

    python -m bench.logprobs --out bench/results                  # starts its own cpu-dev engine
    python -m bench.logprobs --out bench/results --engine http://127.0.0.1:18000 \
        [--engine-pid PID]                                        # or one already running

Extraction asks vLLM for ``logprobs`` by default (the gateway turns them into per-field
confidence). This measures on one engine, in one run, three modes side by side: no logprobs,
``logprobs: true`` (the chosen token's only, what the gateway asks for: "top 0") and
``logprobs: true, top_logprobs: 5``. Each request is a short text prompt that decodes a fixed
number of tokens (``ignore_eos``, a fixed ``seed``), not streamed, exactly as extraction
asks; tokens/s = completion tokens / wall time, so it includes building the logprobs into
the answer, which is part of their cost. Prefill of the short prompt is a few percent of it.

* one request at a time, and
* ``--concurrency`` requests at once (completion tokens of all / wall time).

The engine's CPU time (its whole process tree, from ``/proc``) per generated token is
measured too: on a machine shared with other work, wall-clock rates swing several-fold from
round to round, while the CPU the engine spends per token moves far less. Other clients of
a shared engine (``--engine`` with ``--engine-pid``) only ever *add* CPU time to a round, so
the report compares each mode's least CPU per token over all rounds: the round nobody else
disturbed. An engine of the bench's own (the default) has no other clients.

Each round runs every mode back to back, in a rotating order. On a shared machine (the load
average is in the report) other work comes and goes, so the report gives, besides each
mode's median tokens/s, the median over rounds of the *paired* ratio (a mode's tokens/s over
``off``'s in the same round): the estimate that drift disturbs least.
Target (issue 13): at most 10% slower with logprobs. The report says whether it was met.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.engine import start_engine
from bench.reports import write_report
from serve.profiles import get_profile
from serve.tiny import ensure_checkpoint

__all__ = ["MODES", "main"]

MODES: dict[str, dict[str, Any]] = {
    "off": {},
    "top 0": {"logprobs": True},
    "top 5": {"logprobs": True, "top_logprobs": 5},
}
TARGET_SLOWDOWN = 0.10


def _body(tokens: int, seed: int, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": "phi-3.5-vision",
        "messages": [{"role": "user", "content": "Write a long report about the harbour."}],
        "max_tokens": tokens,
        "ignore_eos": True,
        "temperature": 1.0,
        "seed": seed,
        **extra,
    }


def _complete(client: httpx.Client, body: dict[str, Any]) -> int:
    """Completion tokens of one non-streaming answer (checked: logprobs came when asked)."""
    response = client.post("/v1/chat/completions", json=body)
    response.raise_for_status()
    answer = response.json()
    assert (answer["choices"][0].get("logprobs") is not None) == bool(body.get("logprobs"))
    return int(answer["usage"]["completion_tokens"])


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(root: int | None) -> float:
    """User + system CPU seconds of ``root`` and all its descendants (0 without a pid)."""
    if root is None:
        return 0.0
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / _TICK
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier += children
    return sum(times.get(pid, 0.0) for pid in tree)


def _measure(
    pool: ThreadPoolExecutor, client: httpx.Client, bodies: list[dict[str, Any]], pid: int | None
) -> tuple[float, float]:
    """Tokens/s of ``bodies`` sent at once, and the engine's CPU ms per token meanwhile."""
    cpu, start = _cpu_seconds(pid), time.perf_counter()
    tokens = sum(pool.map(lambda b: _complete(client, b), bodies))
    wall, used = time.perf_counter() - start, _cpu_seconds(pid) - cpu
    return tokens / wall, 1000 * used / tokens


def run(
    url: str, rounds: int, tokens: int, concurrency: int, pid: int | None = None
) -> dict[str, Any]:
    names = list(MODES)
    kinds = ("single", "batch")
    rates: dict[str, dict[str, list[float]]] = {k: {m: [] for m in names} for k in kinds}
    cpu: dict[str, dict[str, list[float]]] = {k: {m: [] for m in names} for k in kinds}
    load_before = os.getloadavg()
    with (
        httpx.Client(base_url=url, timeout=600) as client,
        ThreadPoolExecutor(concurrency) as pool,
    ):
        _complete(client, _body(8, 0, {}))  # warm-up: the first request pays one-off costs
        for r in range(rounds):
            for mode in names[r % len(names) :] + names[: r % len(names)]:
                extra = MODES[mode]
                bodies = {
                    "single": [_body(tokens, r, extra)],
                    "batch": [_body(tokens, 1000 * r + i, extra) for i in range(concurrency)],
                }
                for kind in kinds:
                    rate, cpu_ms = _measure(pool, client, bodies[kind], pid)
                    rates[kind][mode].append(rate)
                    cpu[kind][mode].append(cpu_ms)
    results: dict[str, Any] = {
        "python": platform.python_version(),
        "rounds": rounds,
        "tokens_per_request": tokens,
        "concurrency": concurrency,
        "engine_pid": pid,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "modes": {m: MODES[m] for m in names},
        "tok_s": rates,
        "engine_cpu_ms_per_token": cpu,
    }
    for kind in kinds:
        results[f"{kind}_median_tok_s"] = _medians(rates[kind])
        results[f"{kind}_paired_ratio"] = _paired(rates[kind])
        if pid is not None:
            least = {m: min(v) for m, v in cpu[kind].items()}
            results[f"{kind}_median_cpu_ms"] = _medians(cpu[kind])
            results[f"{kind}_least_cpu_ms"] = least
            # tokens per CPU second relative to off: the throughput a CPU-bound engine keeps
            results[f"{kind}_cpu_ratio"] = {m: least["off"] / v for m, v in least.items()}
    basis = "cpu_ratio" if pid is not None else "paired_ratio"
    results["target_basis"] = basis
    results["target_met"] = all(
        results[f"{kind}_{basis}"]["top 0"] >= 1 - TARGET_SLOWDOWN for kind in kinds
    )
    return results


def _medians(samples: dict[str, list[float]]) -> dict[str, float]:
    return {m: statistics.median(v) for m, v in samples.items()}


def _paired(samples: dict[str, list[float]]) -> dict[str, float]:
    """Median over rounds of each mode's value over ``off``'s in the same round."""
    return {
        m: statistics.median(x / o for x, o in zip(v, samples["off"], strict=True))
        for m, v in samples.items()
    }


def render(results: dict[str, Any]) -> str:
    many = results["concurrency"]
    load = ", ".join(f"{x:.1f}" for x in results["load_average_before"])
    with_cpu = results["engine_pid"] is not None
    lines = [
        "# Decode speed with and without logprobs",
        "",
        f"Python {results['python']}; {results['rounds']} rounds; "
        f"{results['tokens_per_request']} tokens per request (ignore_eos, not streamed); one "
        f"engine, one run ({results.get('engine', '')}). Load average (1, 5, 15 min) before: "
        f"{load}.",
        "",
        "Wall clock: tokens/s (median over rounds) and the median of the per-round ratio to `off`:",
        "",
        f"| mode | request fields | 1 request tok/s | ratio | {many} at once tok/s | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for mode, fields in results["modes"].items():
        cells = [mode, f"`{json.dumps(fields)}`"]
        for kind in ("single", "batch"):
            cells.append(f"{results[f'{kind}_median_tok_s'][mode]:.1f}")
            cells.append(f"{results[f'{kind}_paired_ratio'][mode]:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    if with_cpu:
        lines += [
            "",
            "Engine CPU ms per generated token (median and least over rounds), and tokens per "
            "CPU second relative to `off` (from the least):",
            "",
            f"| mode | 1 request: median | least | ratio | {many} at once: median | least | "
            "ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        for mode in results["modes"]:
            cells = [mode]
            for kind in ("single", "batch"):
                cells.append(f"{results[f'{kind}_median_cpu_ms'][mode]:.2f}")
                cells.append(f"{results[f'{kind}_least_cpu_ms'][mode]:.2f}")
                cells.append(f"{results[f'{kind}_cpu_ratio'][mode]:.3f}")
            lines.append("| " + " | ".join(cells) + " |")
    met = "met" if results["target_met"] else "NOT met"
    basis = "CPU" if with_cpu else "wall-clock"
    lines += [
        "",
        f"Target: `top 0` (what extraction asks for) at most {TARGET_SLOWDOWN:.0%} slower than "
        f"`off` ({basis} ratio >= {1 - TARGET_SLOWDOWN:.2f}), one request and {many} at "
        f"once: **{met}**.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--engine", help="an engine already running (default: start cpu-dev)")
    parser.add_argument(
        "--engine-pid", type=int, help="with --engine: its server pid, to count its CPU time"
    )
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.engine:
        results = run(args.engine, args.rounds, args.tokens, args.concurrency, args.engine_pid)
        results["engine"] = "given: " + args.engine
    else:
        profile = get_profile("cpu-dev")
        ensure_checkpoint(Path(profile.model))
        engine, url = start_engine(profile, args.out / "logprobs_engine.log")
        try:
            results = run(url, args.rounds, args.tokens, args.concurrency, engine.pid)
        finally:
            engine.stop()
        results["engine"] = "started: cpu-dev"
    write_report(args.out, "logprobs", results, render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
