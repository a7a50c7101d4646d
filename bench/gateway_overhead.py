"""What the gateway costs: a fixed-response upstream called directly and through the gateway.

    python -m bench.gateway_overhead --out bench/results     # writes gateway_overhead.{md,json}

Starts, on loopback, the stub upstream (``harness.gateway_stub``: fixed
chat.completion JSON and a fixed SSE stream, a few microseconds per request) and the real
gateway (``python -m gateway serve``, one worker, a real key, access log on). Then, in one run,
side by side:

* latency p50/p99 and requests/s with 1 and with 16 requests in flight (non-streaming);
* streaming: time to the first SSE byte and to the end of the stream, 1 in flight;
* the same non-streaming comparison at 16 in flight against more baselines: an ASGI stub
  on uvicorn (the kind of server vLLM runs), and the raw stub made to wait 1 ms and 10 ms
  before each answer, as a model server would (every real answer takes longer than that);
* the floor: a bare pass-through proxy on the gateway's server and client (``bare_proxy.py``)
  in the gateway's place, in front of the raw and the uvicorn stub;
* a gateway with two worker processes in front of the raw and the uvicorn stub.

The load driver is a small raw-asyncio HTTP/1.1 client with keep-alive connections, so that the
driver's own cost stays small next to the servers'. Every process is stopped by pid at the end.
Targets (issue 3): +<= 0.5 ms at p50 with 1 in flight, >= 40 % of direct throughput at 16.
Numbers depend on the machine: the report records its CPU count and Python version.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.reports import write_report
from gateway.auth.keys import KeyStore
from harness.gateway_server import REPO, STUB, gateway_env
from harness.procs import free_port, stop_process, wait_until_healthy
from loadtest.stats import percentile

__all__ = ["main", "Result"]

SERVICE_MS = (1, 10)
"""Upstream service times for the realistic-latency comparison. 10 ms is still faster than
any real answer: one forward pass of a 4B model plus vLLM's own request handling."""
ASGI_STUB = ["-m", "harness.asgi_stub"]
BARE_PROXY = ["-m", "bench.bare_proxy"]
BARE = ("raw-bare", "uvicorn-bare")
"""The bare proxy in the gateway's place, in front of the raw and the uvicorn stub: the most
that any proxy on the gateway's server and client (uvicorn, aiohttp) keeps."""
WORKERS = ("raw-2w", "uvicorn-2w")
"""Gateways with two worker processes (``--workers 2``), in front of the raw and the uvicorn
stub: what a second worker buys when the machine has a core to spare."""
CHAT_BODY = json.dumps(
    {"model": "stub", "max_tokens": 16, "messages": [{"role": "user", "content": "Say hello."}]}
).encode()
STREAM_BODY = json.dumps(
    {
        "model": "stub",
        "max_tokens": 16,
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "Say hello."}],
    }
).encode()


@dataclass
class Result:
    target: str
    scenario: str
    concurrency: int
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    rps: float
    ttfb_p50_ms: float | None = None
    ttfb_p99_ms: float | None = None


def _request(port: int, body: bytes, key: str | None) -> bytes:
    auth = f"authorization: Bearer {key}\r\n" if key else ""
    return (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n{auth}\r\n"
    ).encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, float]:
    """Read one response; return (status, perf_counter at the first body byte)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        first = 0.0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.strip(), 16)
            if not first:
                first = time.perf_counter()
            await reader.readexactly(size + 2)
            if size == 0:
                return status, first
    at = lower.find(b"content-length:")
    length = int(lower[at + 15 : lower.find(b"\r\n", at)]) if at >= 0 else 0
    await reader.readexactly(length)
    return status, time.perf_counter()


async def _worker(
    port: int, payload: bytes, count: int, lat: list[float], ttfb: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(count):
            start = time.perf_counter()
            writer.write(payload)
            status, first = await _read_response(reader)
            end = time.perf_counter()
            if status != 200:
                errors.append(status)
            lat.append(end - start)
            ttfb.append(first - start)
    finally:
        writer.close()


async def _run(
    port: int, payload: bytes, concurrency: int, total: int
) -> tuple[list[float], list[float], list[int], float]:
    lat: list[float] = []
    ttfb: list[float] = []
    errors: list[int] = []
    per = total // concurrency
    start = time.perf_counter()
    await asyncio.gather(
        *(_worker(port, payload, per, lat, ttfb, errors) for _ in range(concurrency))
    )
    return lat, ttfb, errors, time.perf_counter() - start


def _ms(values: list[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (seconds) in milliseconds (0 when there are none)."""
    return (percentile(values, q) or 0.0) * 1000


async def measure(
    target: str,
    port: int,
    key: str | None,
    scenario: str,
    concurrency: int,
    total: int,
    warmup: int,
) -> Result:
    payload = _request(port, STREAM_BODY if scenario == "stream" else CHAT_BODY, key)
    await _run(port, payload, concurrency, warmup)
    lat, ttfb, errors, elapsed = await _run(port, payload, concurrency, total)
    result = Result(
        target,
        scenario,
        concurrency,
        len(lat),
        len(errors),
        round(_ms(lat, 50), 3),
        round(_ms(lat, 99), 3),
        round(statistics.fmean(lat) * 1000, 3),
        round(len(lat) / elapsed, 1),
    )
    if scenario == "stream":
        result.ttfb_p50_ms = round(_ms(ttfb, 50), 3)
        result.ttfb_p99_ms = round(_ms(ttfb, 99), 3)
    return result


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _report(results: list[Result], meta: dict[str, object]) -> tuple[str, dict[str, object]]:
    by = {(r.target, r.scenario, r.concurrency): r for r in results}
    rows = [
        "| scenario | in flight | direct p50 / p99 ms | gateway p50 / p99 ms | added p50 ms "
        "| direct req/s | gateway req/s | kept |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios: dict[str, float] = {}
    for scenario, conc in (("chat", 1), ("chat", 16), ("stream", 1)):
        d, g = by[("direct", scenario, conc)], by[("gateway", scenario, conc)]
        added = g.p50_ms - d.p50_ms
        kept = g.rps / d.rps
        ratios[f"{scenario}_c{conc}_added_p50_ms"] = round(added, 3)
        ratios[f"{scenario}_c{conc}_throughput_kept"] = round(kept, 3)
        rows.append(
            f"| {scenario} | {conc} | {d.p50_ms:.3f} / {d.p99_ms:.3f} | "
            f"{g.p50_ms:.3f} / {g.p99_ms:.3f} | {added:+.3f} | {d.rps:.0f} | "
            f"{g.rps:.0f} | {kept:.0%} |"
        )
    uvicorn_rows = _pair_rows(by, ratios, [("uvicorn", 1), ("uvicorn", 16)])
    service_rows = _pair_rows(by, ratios, [(f"{ms}ms", 16) for ms in SERVICE_MS])
    bare_rows = _pair_rows(by, ratios, [(name, 16) for name in BARE])
    worker_rows = _pair_rows(by, ratios, [(w, 16) for w in WORKERS])
    ds, gs = by[("direct", "stream", 1)], by[("gateway", "stream", 1)]
    ratios["stream_ttfb_added_p50_ms"] = round((gs.ttfb_p50_ms or 0) - (ds.ttfb_p50_ms or 0), 3)
    checks = {
        "added_p50_at_1_le_0.5ms": ratios["chat_c1_added_p50_ms"] <= 0.5,
        "throughput_at_16_ge_40pct": ratios["chat_c16_throughput_kept"] >= 0.40,
        "throughput_at_16_ge_40pct_vs_uvicorn_upstream": (
            ratios["uvicorn_chat_c16_throughput_kept"] >= 0.40
        ),
        f"throughput_at_16_ge_40pct_vs_{SERVICE_MS[-1]}ms_upstream": (
            ratios[f"{SERVICE_MS[-1]}ms_chat_c16_throughput_kept"] >= 0.40
        ),
    }
    md = "\n".join(
        [
            "# Gateway overhead",
            "",
            f"Measured {meta['when']} on {meta['machine']} ({meta['cpus']} CPUs), Python "
            f"{meta['python']}. Stub upstream and gateway (1 worker) on loopback; raw asyncio "
            "keep-alive client. Same run, side by side.",
            "",
            *rows,
            "",
            "The same fixed answers from a framework-free ASGI stub on uvicorn (httptools, "
            "uvloop), the kind of server vLLM's OpenAI API runs on. If the gateway kept far more "
            "of this baseline than of the raw one, the gap would be the raw stub's speed; when "
            "both ratios are low, the gap is the gateway's own per-request cost:",
            "",
            *uvicorn_rows,
            "",
            "Both stubs answer in microseconds, so their throughput at 16 in flight measures "
            "the gateway's CPU per request against nearly none. A model server is never that "
            "fast: the same raw stub, made to wait before each answer as an engine would "
            "(no CPU used while waiting):",
            "",
            *service_rows,
            "",
            "The floor for any proxy built like the gateway: `bench/bare_proxy.py` in the "
            'gateway\'s place (the "gateway" columns), on the same server and client (uvicorn '
            "with httptools and uvloop, one pooled aiohttp session) but with no key check, no "
            "body checks, no access log and no metrics. What it keeps, the gateway cannot "
            "exceed:",
            "",
            *bare_rows,
            "",
            "Two gateway workers, each accepting on its own socket (`--workers 2`), in front of "
            "the raw and the uvicorn stub. This machine has 2 cores, which the load driver and "
            "the stub share with the gateway:",
            "",
            *worker_rows,
            "",
            f"Streaming time to first byte, p50: direct {ds.ttfb_p50_ms:.3f} ms, gateway "
            f"{gs.ttfb_p50_ms:.3f} ms (p99 {ds.ttfb_p99_ms:.3f} / {gs.ttfb_p99_ms:.3f} ms).",
            "",
            "Targets: " + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in checks.items()),
            "",
        ]
    )
    return md, {
        "meta": meta,
        "ratios": ratios,
        "targets_met": checks,
        "results": [asdict(r) for r in results],
    }


def _pair_rows(
    by: dict[tuple[str, str, int], Result],
    ratios: dict[str, float],
    cases: list[tuple[str, int]],
) -> list[str]:
    """A table of ``direct-<upstream>`` against ``gateway-<upstream>`` (chat), one row per
    (upstream, in flight) case."""
    rows = [
        "| upstream | in flight | direct p50 ms | gateway p50 ms | added p50 ms | direct req/s "
        "| gateway req/s | kept |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for upstream, conc in cases:
        d, g = by[(f"direct-{upstream}", "chat", conc)], by[(f"gateway-{upstream}", "chat", conc)]
        kept = g.rps / d.rps
        ratios[f"{upstream}_chat_c{conc}_added_p50_ms"] = round(g.p50_ms - d.p50_ms, 3)
        ratios[f"{upstream}_chat_c{conc}_throughput_kept"] = round(kept, 3)
        rows.append(
            f"| {upstream} | {conc} | {d.p50_ms:.3f} | {g.p50_ms:.3f} | "
            f"{g.p50_ms - d.p50_ms:+.3f} | {d.rps:.0f} | {g.rps:.0f} | {kept:.0%} |"
        )
    return rows


def _shown(pair: str, scenario: str, concurrency: int) -> bool:
    """Whether the report shows this (baseline, scenario, in flight) cell: the raw stub every
    one, the uvicorn stub chat only, every other baseline chat at 16 in flight only."""
    if pair == "":
        return True
    if pair == "-uvicorn":
        return scenario == "chat"
    return (scenario, concurrency) == ("chat", 16)


async def _bench(ports: dict[str, int], key: str, n1: int, n16: int, nstream: int) -> list[Result]:
    results = []
    plan = [("chat", 1, n1), ("chat", 16, n16), ("stream", 1, nstream)]
    pairs = ["", "-uvicorn"] + [f"-{ms}ms" for ms in SERVICE_MS]
    pairs += [f"-{name}" for name in (*BARE, *WORKERS)]
    for scenario, conc, total in plan:
        for pair in pairs:
            if not _shown(pair, scenario, conc):
                continue  # the baselines need only what their tables show
            for target, k in ((f"direct{pair}", None), (f"gateway{pair}", key)):
                warmup = max(50, total // 10)
                results.append(
                    await measure(target, ports[target], k, scenario, conc, total, warmup)
                )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "bench" / "results",
        help="folder for gateway_overhead.md and .json",
    )
    parser.add_argument("--requests", type=int, default=3000, help="per scenario, 1 in flight")
    parser.add_argument("--requests-16", type=int, default=8000, help="per scenario, 16 in flight")
    parser.add_argument("--stream-requests", type=int, default=1000)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    key = KeyStore(work / "keys.db").create("bench")
    env = gateway_env(work / "keys.db")
    # Each upstream gets its own gateway: (pair suffix, upstream command).
    upstreams = [("", STUB), ("-uvicorn", ASGI_STUB)]
    upstreams += [(f"-{ms}ms", [*STUB, "--service-ms", str(ms)]) for ms in SERVICE_MS]
    upstreams += [
        (f"-{name}", ASGI_STUB if name.startswith("uvicorn") else STUB)
        for name in (*BARE, *WORKERS)
    ]
    ports: dict[str, int] = {}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for pair, cmd in upstreams:
            up, gw = f"direct{pair}", f"gateway{pair}"
            ports[up], ports[gw] = free_port(), free_port()
            procs[up] = _spawn(
                [sys.executable, *cmd, "--port", str(ports[up])], env, work / f"{up}.log"
            )
            upstream_url = f"http://127.0.0.1:{ports[up]}"
            if pair.endswith("bare"):
                front = [*BARE_PROXY, "--upstream", upstream_url]
            else:
                workers = ["--workers", "2"] if pair.endswith("2w") else []
                front = ["-m", "gateway", "serve", *workers]
            procs[gw] = _spawn(
                [sys.executable, *front, "--port", str(ports[gw])],
                {**env, "GATEWAY_UPSTREAM_URL": upstream_url},
                work / f"{gw}.log",
            )
        for name, proc in procs.items():
            url = f"http://127.0.0.1:{ports[name]}/health"
            wait_until_healthy(url, proc, 60, work / f"{name}.log")
        results = asyncio.run(
            _bench(ports, key, args.requests, args.requests_16, args.stream_requests)
        )
    finally:
        for proc in procs.values():
            stop_process(proc, grace=10)
    meta: dict[str, object] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    md, data = _report(results, meta)
    write_report(args.out, "gateway_overhead", data, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
