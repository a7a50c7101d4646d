"""The Batch API against a client of its own: throughput, the gateway's cost per line, and
what a running batch does to interactive users (issue 20).

    python -m bench.batch --out bench/results                      # 200 lines, 16 in flight
    BENCH_BATCH_LINES=20 python -m bench.batch --interactive 5     # a quick look

Starts the real engine (``serve run --profile cpu-dev``; ``VISION_STACK_ENGINE_URL`` reuses a
running one) and the real gateway in front of it (every setting at its default, so
``GATEWAY_BACKGROUND_MAX_IN_FLIGHT`` is the shipped one unless the environment sets it), then,
one after the other:

1. **client, engine direct**: the ``--lines`` small-image chat requests sent straight to vLLM
   by `openai.AsyncOpenAI`, ``--concurrency`` (16) in flight: what the engine does alone;
2. **client, through the gateway**: the same kind of requests, same client, to the gateway;
3. **batch**: the same kind of requests as one batch (``files.create`` + ``batches.create``, polled
   every 0.2 s), from ``created_at`` to ``completed`` as the client sees it;
4. **TTFT alone**: ``--interactive`` streamed chat requests, one at a time, time to the first
   content token, with nothing else running;
5. **TTFT during a batch**: the same while a second batch of the same lines runs (the
   requests are sent while its status is ``in_progress``; the batch is then cancelled).

Lines/s: requests ÷ wall seconds. The ratio (target ≥ 0.9×) is batch ÷ client through the
gateway; the gateway's overhead per line is the batch's wall time per line minus the direct
client's. TTFT ratio (target ≤ 1.3×): p50 during ÷ p50 alone. Every run sends images of its
own (same size, same prompt, other pixels), so that none is answered from the caches an
earlier run filled. On a loaded machine every figure is indicative only; the report records
the load when it started.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openai
from PIL import Image, ImageDraw

from bench.reports import run_meta, write_report
from gateway.settings import Settings
from harness.engine import SERVED_MODEL, start_engine
from harness.gateway_server import start_gateway
from loadtest.stats import percentile

__all__ = ["main", "request_body"]

DONE = ("completed", "failed", "expired", "cancelled")


def _image_url(seed: int) -> str:
    """A small PNG (320 × 240) as a data URL, different per seed."""
    image = Image.new("RGB", (320, 240), (seed * 37 % 256, seed * 91 % 256, 200))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20 + seed % 100, 30, 180, 200), fill=(255, 255, 255))
    draw.text((40, 100), f"item {seed}", fill=(0, 0, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def request_body(index: int, max_tokens: int) -> dict[str, Any]:
    """Request ``index``: one small image and a short question, sampled with a fixed seed."""
    content = [
        {"type": "text", "text": "Describe this image in one sentence."},
        {"type": "image_url", "image_url": {"url": _image_url(index)}},
    ]
    return {
        "model": SERVED_MODEL,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "seed": index,
    }


async def _client_run(
    client: openai.AsyncOpenAI, bodies: Sequence[dict[str, Any]], concurrency: int
) -> dict[str, Any]:
    gate = asyncio.Semaphore(concurrency)
    errors = 0

    async def one(body: dict[str, Any]) -> None:
        nonlocal errors
        async with gate:
            try:
                await client.chat.completions.create(**body)
            except openai.OpenAIError:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(one(b) for b in bodies))
    wall = time.perf_counter() - start
    return {"requests": len(bodies), "errors": errors, "wall_s": wall, "rps": len(bodies) / wall}


async def _submit(client: openai.AsyncOpenAI, bodies: Sequence[dict[str, Any]]) -> str:
    lines = [
        {"custom_id": f"line-{i}", "method": "POST", "url": "/v1/chat/completions", "body": b}
        for i, b in enumerate(bodies)
    ]
    data = ("\n".join(json.dumps(line) for line in lines) + "\n").encode()
    uploaded = await client.files.create(file=("bench.jsonl", data), purpose="batch")
    batch = await client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    return batch.id


async def _batch_run(
    client: openai.AsyncOpenAI, bodies: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    start = time.perf_counter()
    batch_id = await _submit(client, bodies)
    while (batch := await client.batches.retrieve(batch_id)).status not in DONE:
        await asyncio.sleep(0.2)
    wall = time.perf_counter() - start
    counts = batch.request_counts
    return {
        "requests": len(bodies),
        "status": batch.status,
        "completed": counts.completed if counts else None,
        "failed": counts.failed if counts else None,
        "wall_s": wall,
        "rps": len(bodies) / wall,
        "server_s": (batch.completed_at or 0) - batch.created_at if batch.completed_at else None,
    }


async def _ttft(client: openai.AsyncOpenAI, body: dict[str, Any]) -> float | None:
    """Seconds to the first chunk that carries content (``None`` if the stream had none)."""
    start = time.perf_counter()
    stream = await client.chat.completions.create(**body, stream=True)
    first = None
    async for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - start
    return first


async def _ttfts(
    client: openai.AsyncOpenAI, bodies: Sequence[dict[str, Any]], while_batch: str | None = None
) -> list[float]:
    out = []
    for body in bodies:
        if while_batch is not None:
            batch = await client.batches.retrieve(while_batch)
            if batch.status != "in_progress":
                break  # the batch ended: later requests would not measure what we want
        if (value := await _ttft(client, body)) is not None:
            out.append(value)
    return out


def _p50_ms(values: Sequence[float]) -> float | None:
    p50 = percentile(values, 50)
    return None if p50 is None else 1000 * p50


async def _bench(
    engine_url: str, gateway_url: str, key: str, args: argparse.Namespace
) -> dict[str, Any]:
    def phase(number: int) -> list[dict[str, Any]]:
        # each run gets images of its own: the same requests again would be answered from
        # vLLM's prefix and multimodal caches, and the later run would look faster
        return [request_body(number * 10_000 + i, args.max_tokens) for i in range(args.lines)]

    def asks(number: int) -> list[dict[str, Any]]:
        return [request_body(number * 10_000 + i, args.max_tokens) for i in range(args.interactive)]

    alone_asks, during_asks = asks(5), asks(6)
    direct = openai.AsyncOpenAI(base_url=engine_url + "/v1", api_key="none", max_retries=0)
    via = openai.AsyncOpenAI(base_url=gateway_url + "/v1", api_key=key, max_retries=0, timeout=600)
    await direct.chat.completions.create(**request_body(-1, 4))  # warm-up
    await via.chat.completions.create(**request_body(-2, 4))
    results: dict[str, Any] = {}
    results["client_direct"] = await _client_run(direct, phase(1), args.concurrency)
    results["client_gateway"] = await _client_run(via, phase(2), args.concurrency)
    results["batch"] = await _batch_run(via, phase(3))
    results["ttft_alone_s"] = await _ttfts(via, alone_asks)
    running = await _submit(via, phase(4))
    while (await via.batches.retrieve(running)).status == "validating":
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # the first lines are in the engine
    results["ttft_during_s"] = await _ttfts(via, during_asks, while_batch=running)
    status = (await via.batches.retrieve(running)).status
    results["second_batch_status_after_ttft"] = status
    if status not in DONE:
        await via.batches.cancel(running)
    await direct.close()
    await via.close()
    return results


def _report(results: dict[str, Any], args: argparse.Namespace, in_flight: int) -> str:
    meta = results["meta"]
    direct, gated, batch = results["client_direct"], results["client_gateway"], results["batch"]
    ratio = batch["rps"] / gated["rps"]
    ratio_direct = batch["rps"] / direct["rps"]
    overhead_ms = 1000 * (batch["wall_s"] - direct["wall_s"]) / args.lines
    alone, during = _p50_ms(results["ttft_alone_s"]), _p50_ms(results["ttft_during_s"])
    ttft_ratio = during / alone if alone and during else None
    results["summary"] = {
        "batch_over_client_gateway": ratio,
        "batch_over_client_direct": ratio_direct,
        "overhead_ms_per_line": overhead_ms,
        "ttft_p50_alone_ms": alone,
        "ttft_p50_during_ms": during,
        "ttft_ratio": ttft_ratio,
        "background_max_in_flight": in_flight,
    }
    fmt = lambda v: "n/a" if v is None else f"{v:.0f}"  # noqa: E731
    return "\n".join(
        [
            "# Batch API: throughput and interactive latency",
            "",
            f"Run {meta['when']} on {meta['cpus']} CPUs ({meta['machine']}), load average "
            f"{meta['load']} at the start; engine: `serve run --profile cpu-dev` (the tiny "
            f"checkpoint), `GATEWAY_BACKGROUND_MAX_IN_FLIGHT` = **{in_flight}**. "
            f"{args.lines} small-image chat requests (320 × 240 PNG, max_tokens "
            f"{args.max_tokens}, temperature 0, a seed each). On a loaded machine every figure "
            "is indicative only.",
            "",
            "| run | requests | wall s | lines/s | errors / failed |",
            "| --- | ---: | ---: | ---: | ---: |",
            f"| client → engine, {args.concurrency} in flight | {direct['requests']} | "
            f"{direct['wall_s']:.1f} | {direct['rps']:.2f} | {direct['errors']} |",
            f"| client → gateway, {args.concurrency} in flight | {gated['requests']} | "
            f"{gated['wall_s']:.1f} | {gated['rps']:.2f} | {gated['errors']} |",
            f"| batch ({batch['status']}) | {batch['requests']} | {batch['wall_s']:.1f} | "
            f"{batch['rps']:.2f} | {batch['failed']} |",
            "",
            f"- Batch ÷ client through the gateway: **{ratio:.2f}×** (target ≥ 0.9×); "
            f"÷ client straight to the engine: {ratio_direct:.2f}×.",
            f"- The gateway's overhead per batch line (batch wall ÷ lines − direct client's): "
            f"**{overhead_ms:.0f} ms**.",
            f"- Interactive TTFT p50 (streamed, one at a time): alone **{fmt(alone)} ms** "
            f"({len(results['ttft_alone_s'])} requests), during a batch **{fmt(during)} ms** "
            f"({len(results['ttft_during_s'])} requests) → "
            + (f"**{ttft_ratio:.2f}×**" if ttft_ratio else "n/a")
            + f" (target ≤ 1.3×), at `GATEWAY_BACKGROUND_MAX_IN_FLIGHT` = {in_flight}.",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    env = os.environ.get
    parser.add_argument("--lines", type=int, default=int(env("BENCH_BATCH_LINES", "200")))
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--interactive", type=int, default=int(env("BENCH_BATCH_INTERACTIVE", "20"))
    )
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args(argv)
    shipped = Settings.model_fields["background_max_in_flight"].default
    in_flight = int(env("GATEWAY_BACKGROUND_MAX_IN_FLIGHT", str(shipped)))
    meta = run_meta()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        work = Path(tmp)
        engine = start_engine(work)
        try:
            overrides = {"GATEWAY_BACKGROUND_MAX_IN_FLIGHT": str(in_flight)}
            gateway = start_gateway(engine.base_url, work, **overrides)
            try:
                key = gateway.create_key("bench-batch", scopes=["chat"])
                results = asyncio.run(_bench(engine.base_url, gateway.base_url, key, args))
            finally:
                gateway.stop()
        finally:
            engine.stop()
    results["meta"] = meta
    results["settings"] = {
        **vars(args),
        "out": str(args.out),
        "background_max_in_flight": in_flight,
    }
    markdown = _report(results, args, in_flight)
    write_report(args.out, "batch", results, markdown)


if __name__ == "__main__":
    main()
