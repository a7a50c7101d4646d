"""Prefix caching across schemas on one image, and what disable_any_whitespace saves.

    python -m bench.prefix_cache --out bench/results     # writes prefix_cache.{md,json}

Starts vLLM CPU on the tiny checkpoint (profile ``cpu-dev``), then sends K extraction prompts
built exactly as the gateway builds them (``gateway.pipeline.prompt``: fixed system prompt,
then the image, then each schema's instructions) for one 1024x768 image at num_crops=16,
streaming so that time to first token is visible: the first schema alone (cold), then the
other K-1 (warm). For each request it reads vLLM's ``/metrics`` before and after:
``vllm:prefix_cache_hits_total / vllm:prefix_cache_queries_total`` is the share of its prompt
tokens served from the cache.

The same cold-then-warm sequence then runs on an engine with vLLM's default CPU block size
(128 tokens instead of cpu-dev's 32): prefix caching reuses whole blocks only, and the report
shows what the block size costs side by side.

Then it starts an engine identical but for ``disable_any_whitespace=false`` (vLLM 0.32 reads
that flag only from the server config) and reports completion tokens per schema on both.

Targets (issue 4): requests 2..K get >= 95% of prompt tokens from cache, and their TTFT is at
most a fifth of the first one's.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.engine import start_engine
from bench.reports import write_report
from gateway.pipeline.prompt import build_messages
from harness.images import data_url, make_image
from loadtest.enginemetrics import parse_metrics, total
from schemas import get
from serve.profiles import get_profile
from serve.tiny import ensure_checkpoint

__all__ = ["main"]

SCHEMAS = ["passport", "invoice", "receipt", "table", "image_insight", "scene"]
NUM_CROPS = 16


@dataclass
class Shot:
    schema: str
    phase: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    cached_share: float
    ttft_s: float
    total_s: float


def _cache_counters(client: httpx.Client) -> tuple[float, float]:
    samples = parse_metrics(client.get("/metrics").text)
    hits = total(samples, "vllm:prefix_cache_hits_total") or 0.0
    queries = total(samples, "vllm:prefix_cache_queries_total") or 0.0
    return hits, queries


SAMPLED = {"temperature": 1.0, "seed": 7}
"""Random weights decoded greedily fill every bound of a schema; sampling ends lists."""
GREEDY = {"temperature": 0.0}


def _stream_one(
    client: httpx.Client, schema: str, image: str, phase: str, sampling: dict[str, Any]
) -> Shot:
    spec = get(schema)
    body = {
        "model": "phi-3.5-vision",
        "messages": build_messages(spec, image, None),
        "response_format": spec.response_format(),
        "max_tokens": spec.max_tokens,
        **sampling,
        "mm_processor_kwargs": {"num_crops": NUM_CROPS},
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    hits0, queries0 = _cache_counters(client)
    start = time.perf_counter()
    ttft = 0.0
    usage: dict[str, Any] = {}
    finish = ""
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            for choice in event.get("choices") or []:
                if choice.get("delta", {}).get("content") and not ttft:
                    ttft = time.perf_counter() - start
                finish = choice.get("finish_reason") or finish
            usage = event.get("usage") or usage
    elapsed = time.perf_counter() - start
    hits1, queries1 = _cache_counters(client)
    share = (hits1 - hits0) / (queries1 - queries0) if queries1 > queries0 else 0.0
    return Shot(
        schema, phase, usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0),
        finish, share, ttft, elapsed,
    )  # fmt: skip


def _cold_then_warm(client: httpx.Client, image: str) -> list[Shot]:
    shots = [_stream_one(client, SCHEMAS[0], image, "cold", SAMPLED)]
    return shots + [_stream_one(client, s, image, "warm", SAMPLED) for s in SCHEMAS[1:]]


def _summary(shots: list[Shot], block_size: int) -> dict[str, Any]:
    warm = shots[1:]
    ttft_warm = sum(s.ttft_s for s in warm) / len(warm)
    return {
        "block_size": block_size,
        "shots": [asdict(s) for s in shots],
        "warm_min_cached_share": min(s.cached_share for s in warm),
        "warm_mean_cached_share": sum(s.cached_share for s in warm) / len(warm),
        "ttft_cold_s": shots[0].ttft_s,
        "ttft_warm_mean_s": ttft_warm,
        "ttft_ratio": ttft_warm / shots[0].ttft_s,
    }


def run(out: Path) -> dict[str, Any]:
    profile = get_profile("cpu-dev")
    ensure_checkpoint(Path(profile.model))
    image = data_url(make_image(1024, 768, seed=7))
    log = out / "prefix_cache_engines.log"
    results: dict[str, Any] = {"python": platform.python_version(), "schemas": SCHEMAS}
    engine, url = start_engine(profile, log)
    try:
        with httpx.Client(base_url=url, timeout=600) as client:
            shots = _cold_then_warm(client, image)
            greedy = [_stream_one(client, s, image, "greedy", GREEDY) for s in SCHEMAS]
    finally:
        engine.stop()
    results |= _summary(shots, profile.block_size)
    results["targets_met"] = {
        "warm_cached_share_ge_95pct": results["warm_min_cached_share"] >= 0.95,
        "warm_ttft_le_fifth_of_cold": results["ttft_ratio"] <= 0.2,
    }

    default_blocks = profile.model_copy(update={"kv_block_size": None})
    engine, url = start_engine(default_blocks, log)
    try:
        with httpx.Client(base_url=url, timeout=600) as client:
            coarse = _cold_then_warm(client, image)
    finally:
        engine.stop()
    results["default_block_size"] = _summary(coarse, default_blocks.block_size)

    whitespace_allowed = profile.model_copy(update={"disable_any_whitespace": False})
    engine, url = start_engine(whitespace_allowed, log)
    try:
        with httpx.Client(base_url=url, timeout=600) as client:
            loose = [_stream_one(client, s, image, "loose", SAMPLED) for s in SCHEMAS]
            loose_greedy = [_stream_one(client, s, image, "loose", GREEDY) for s in SCHEMAS]
    finally:
        engine.stop()
    results["whitespace"] = [
        {
            "schema": a.schema,
            "max_tokens": get(a.schema).max_tokens,
            "sampled": [a.completion_tokens, a.finish_reason, b.completion_tokens, b.finish_reason],
            "greedy": [c.completion_tokens, c.finish_reason, d.completion_tokens, d.finish_reason],
        }
        for a, b, c, d in zip(shots, loose, greedy, loose_greedy, strict=True)
    ]
    return results


def _shots_table(r: dict[str, Any]) -> list[str]:
    lines = [
        "| # | schema | phase | prompt tokens | from cache | TTFT | total | output tokens |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, s in enumerate(r["shots"], 1):
        lines.append(
            f"| {i} | {s['schema']} | {s['phase']} | {s['prompt_tokens']} | "
            f"{s['cached_share']:.1%} | {s['ttft_s'] * 1000:.0f} ms | {s['total_s']:.2f} s | "
            f"{s['completion_tokens']} |"
        )
    return [
        *lines,
        "",
        f"- warm requests from cache: min {r['warm_min_cached_share']:.1%}, "
        f"mean {r['warm_mean_cached_share']:.1%}",
        f"- TTFT cold {r['ttft_cold_s'] * 1000:.0f} ms, warm mean "
        f"{r['ttft_warm_mean_s'] * 1000:.0f} ms: ratio {r['ttft_ratio']:.3f}",
    ]


def render(r: dict[str, Any]) -> str:
    lines = [
        "# Prefix cache across schemas on one image (vLLM CPU, tiny checkpoint)",
        "",
        f"Image 1024x768 at num_crops={NUM_CROPS}; schemas in order: {', '.join(r['schemas'])}; "
        f"sampled (temperature 1, seed 7). Profile cpu-dev, {r['block_size']}-token KV blocks "
        "(hits count whole blocks).",
        "Targets: warm requests >= 95% of prompt tokens from cache; warm TTFT <= 1/5 of cold.",
        "",
        *_shots_table(r),
        "- targets: "
        + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in r["targets_met"].items()),
        "",
        f"## The same on vLLM's default CPU block size ({r['default_block_size']['block_size']})",
        "",
        *_shots_table(r["default_block_size"]),
        "",
        "## Output tokens with and without disable_any_whitespace",
        "",
        "Completion tokens (finish reason); 'disabled' is every profile's setting.",
        "",
        "| schema | max_tokens | greedy: disabled | greedy: allowed | sampled: disabled "
        "| sampled: allowed |",
        "|---|---|---|---|---|---|",
    ]
    for w in r["whitespace"]:
        g, m = w["greedy"], w["sampled"]
        lines.append(
            f"| {w['schema']} | {w['max_tokens']} | {g[0]} ({g[1]}) | {g[2]} ({g[3]}) | "
            f"{m[0]} ({m[1]}) | {m[2]} ({m[3]}) |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = run(args.out)
    write_report(args.out, "prefix_cache", results, render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
