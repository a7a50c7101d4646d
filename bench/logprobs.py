"""What per-field confidence costs: decode tokens/s with and without ``logprobs``.

    python -m bench.logprobs --out bench/results                  # starts its own cpu-dev engine
    python -m bench.logprobs --out bench/results --engine http://127.0.0.1:18000

Extraction asks vLLM for ``logprobs`` by default (the gateway turns them into per-field
confidence). This measures on one engine, in one run, three modes side by side: no logprobs,
``logprobs: true`` (the chosen token's only, what the gateway asks for: "top 0") and
``logprobs: true, top_logprobs: 5``. Each request is a short text prompt that decodes a fixed
number of tokens (``ignore_eos``, a fixed ``seed``), not streamed, exactly as extraction
asks; tokens/s = completion tokens / wall time, so it includes building the logprobs into
the answer, which is part of their cost. Prefill of the short prompt is a few percent of it.

* one request at a time, and
* ``--concurrency`` requests at once (completion tokens of all / wall time).

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


def _rate(pool: ThreadPoolExecutor, client: httpx.Client, bodies: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    tokens = sum(pool.map(lambda b: _complete(client, b), bodies))
    return tokens / (time.perf_counter() - start)


def run(url: str, rounds: int, tokens: int, concurrency: int) -> dict[str, Any]:
    names = list(MODES)
    rates: dict[str, dict[str, list[float]]] = {
        kind: {mode: [] for mode in names} for kind in ("single", "batch")
    }
    load_before = os.getloadavg()
    with (
        httpx.Client(base_url=url, timeout=600) as client,
        ThreadPoolExecutor(concurrency) as pool,
    ):
        _complete(client, _body(8, 0, {}))  # warm-up: the first request pays one-off costs
        for r in range(rounds):
            for mode in names[r % len(names) :] + names[: r % len(names)]:
                extra = MODES[mode]
                rates["single"][mode].append(_rate(pool, client, [_body(tokens, r, extra)]))
                batch = [_body(tokens, 1000 * r + i, extra) for i in range(concurrency)]
                rates["batch"][mode].append(_rate(pool, client, batch))
    results: dict[str, Any] = {
        "python": platform.python_version(),
        "rounds": rounds,
        "tokens_per_request": tokens,
        "concurrency": concurrency,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "modes": {m: MODES[m] for m in names},
        "tok_s": rates,
    }
    for kind, samples in rates.items():
        results[f"{kind}_median_tok_s"] = {m: statistics.median(v) for m, v in samples.items()}
        results[f"{kind}_paired_ratio"] = {
            m: statistics.median(x / o for x, o in zip(v, samples["off"], strict=True))
            for m, v in samples.items()
        }
    results["target_met"] = all(
        results[f"{kind}_paired_ratio"]["top 0"] >= 1 - TARGET_SLOWDOWN
        for kind in ("single", "batch")
    )
    return results


def render(results: dict[str, Any]) -> str:
    many = results["concurrency"]
    load = ", ".join(f"{x:.1f}" for x in results["load_average_before"])
    lines = [
        "# Decode speed with and without logprobs",
        "",
        f"Python {results['python']}; {results['rounds']} rounds; "
        f"{results['tokens_per_request']} tokens per request (ignore_eos, not streamed); one "
        f"engine, one run ({results.get('engine', '')}). Load average (1, 5, 15 min) before: "
        f"{load}.",
        "",
        "Tokens/s (median over rounds) and the median of the per-round ratio to `off`:",
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
    met = "met" if results["target_met"] else "NOT met"
    lines += [
        "",
        f"Target: `top 0` (what extraction asks for) at most {TARGET_SLOWDOWN:.0%} slower than "
        f"`off` (paired ratio >= {1 - TARGET_SLOWDOWN:.2f}), one request and {many} at once: "
        f"**{met}**.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--engine", help="an engine already running (default: start cpu-dev)")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.engine:
        results = run(args.engine, args.rounds, args.tokens, args.concurrency)
        results["engine"] = "given: " + args.engine
    else:
        profile = get_profile("cpu-dev")
        ensure_checkpoint(Path(profile.model))
        engine, url = start_engine(profile, args.out / "logprobs_engine.log")
        try:
            results = run(url, args.rounds, args.tokens, args.concurrency)
        finally:
            engine.stop()
        results["engine"] = "started: cpu-dev"
    write_report(args.out, "logprobs", results, render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
