"""What shared keys and limits cost: the gateway with its keys in SQLite and limits in process,
against the same gateway with keys in PostgreSQL and limits in Redis (Valkey), side by side.

    python -m bench.shared_limits --out bench/results     # writes shared_limits.{md,json}

Starts, on loopback, a real PostgreSQL and Valkey (``harness/pg.py``,
``redis_server.py``), the stub upstream, and two gateways (one worker each) in front of it: one
on SQLite with the in-process limiter, one on PostgreSQL + Redis. Each has a key with an rpm
and a concurrency limit high enough never to refuse, so that both checks run on every request.
Then, in one run:

* **admission alone** (key lookup through the cache, rpm check, concurrency slot taken and
  given back), timed in this process with the gateway's own ``Authenticator`` built from the
  same settings, one at a time: its p50/p99 in microseconds;
* **end to end**: a non-streaming chat through each gateway to the stub, p50/p99 at 1 in
  flight and requests/s at 16 in flight (the load driver of ``gateway_overhead``). The rounds
  alternate between the two gateways so that a noisy neighbour hurts both alike.

Target (issue 14): Redis adds at most 0.3 ms at p50 with 1 in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.gateway_overhead import STUB, Result, measure  # noqa: E402
from bench.reports import write_report  # noqa: E402
from gateway.auth import build_access, open_key_store, run_access  # noqa: E402
from gateway.metrics import GatewayMetrics  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from harness.gateway_server import gateway_env  # noqa: E402
from harness.pg import PostgresServer  # noqa: E402
from harness.procs import free_port, stop_process, wait_until_healthy  # noqa: E402
from harness.redis_server import RedisServer  # noqa: E402
from loadtest.stats import percentile  # noqa: E402

__all__ = ["main"]

LIMITS: dict[str, Any] = {"rpm": 1_000_000_000, "max_concurrent": 1_000}
TARGET_ADDED_P50_MS = 0.3
CONFIGS = ("local", "shared")
"""``local``: SQLite + in-process limiter; ``shared``: PostgreSQL + Redis."""


def _settings(config: str, keys_db: str, redis_url: str) -> dict[str, str]:
    if config == "local":
        return {"GATEWAY_KEYS_DB": keys_db}
    return {"GATEWAY_KEYS_DB": keys_db, "GATEWAY_REDIS_URL": redis_url}


async def _create_key(target: str) -> str:
    store = open_key_store(target if "://" in target else Path(target))
    try:
        await store.migrate()
        return await store.create("bench", **LIMITS)
    finally:
        await store.close()


async def _admission_us(
    envs: dict[str, dict[str, str]], keys: dict[str, str], count: int, rounds: int
) -> dict[str, list[float]]:
    """Time the gateway's admission (key lookup through the cache, then the limits) in this
    process, one at a time, in microseconds; the configurations take turns in blocks so that
    a busy neighbour slows both alike. ``ping`` is one bare Redis round trip, for scale."""
    times: dict[str, list[float]] = {c: [] for c in (*CONFIGS, "ping")}
    async with AsyncExitStack() as stack:
        ready = {}
        for config in CONFIGS:
            settings = Settings(
                keys_db=envs[config]["GATEWAY_KEYS_DB"],
                redis_url=envs[config].get("GATEWAY_REDIS_URL"),  # type: ignore[arg-type]
            )
            access = build_access(settings, GatewayMetrics())
            await stack.enter_async_context(run_access(access, settings))
            ready[config] = access
        redis = ready["shared"].redis
        assert redis is not None
        block = max(1, count // rounds)
        for _ in range(rounds):
            for config in CONFIGS:
                auth, header = ready[config].auth, f"Bearer {keys[config]}"
                for i in range(block + block // 10):
                    start = time.perf_counter()
                    record = await auth.authenticate(header)
                    lease = await auth.limiter.admit(record.name, record.rpm, record.max_concurrent)
                    elapsed = time.perf_counter() - start
                    lease.release()
                    await asyncio.sleep(0)  # let a background release run, as between requests
                    if i >= block // 10:  # the first tenth of each block warms up
                        times[config].append(elapsed * 1e6)
            for _ in range(block // 4):
                start = time.perf_counter()
                await redis.ping()
                times["ping"].append((time.perf_counter() - start) * 1e6)
    return times


async def _end_to_end(
    ports: dict[str, int], keys: dict[str, str], n1: int, n16: int, rounds: int
) -> list[Result]:
    results = []
    for _ in range(rounds):
        for conc, total in ((1, n1), (16, n16)):
            for config in CONFIGS:
                results.append(
                    await measure(
                        config,
                        ports[config],
                        keys[config],
                        "chat",
                        conc,
                        total,
                        max(50, total // 10),
                    )
                )
    return results


def _report(
    admission: dict[str, list[float]], results: list[Result], meta: dict[str, object]
) -> tuple[str, dict[str, object]]:
    def median(config: str, conc: int, field: str) -> float:
        values = [getattr(r, field) for r in results if (r.target, r.concurrency) == (config, conc)]
        return float(statistics.median(values))

    summary: dict[str, dict[str, float]] = {}
    for config in CONFIGS:
        summary[config] = {
            "admission_p50_us": round(percentile(admission[config], 50) or 0.0, 1),
            "admission_p99_us": round(percentile(admission[config], 99) or 0.0, 1),
            "p50_ms_at_1": round(median(config, 1, "p50_ms"), 3),
            "p99_ms_at_1": round(median(config, 1, "p99_ms"), 3),
            "rps_at_16": round(median(config, 16, "rps"), 1),
            "errors": float(sum(r.errors for r in results if r.target == config)),
        }
    local, shared = summary["local"], summary["shared"]
    ratios = {
        "redis_ping_p50_us": round(percentile(admission["ping"], 50) or 0.0, 1),
        "added_p50_ms_at_1": round(shared["p50_ms_at_1"] - local["p50_ms_at_1"], 3),
        "admission_added_p50_us": round(shared["admission_p50_us"] - local["admission_p50_us"], 1),
        "throughput_kept_at_16": round(shared["rps_at_16"] / local["rps_at_16"], 3),
    }
    met = {f"added_p50_at_1_le_{TARGET_ADDED_P50_MS}ms": ratios["added_p50_ms_at_1"] <= 0.3}
    names = {"local": "SQLite + in-process", "shared": "PostgreSQL + Redis"}
    rows = [
        "| keys + limits | admission p50 / p99 µs | chat p50 / p99 ms, 1 in flight "
        "| req/s, 16 in flight |",
        "|---|---:|---:|---:|",
    ]
    for config in CONFIGS:
        s = summary[config]
        rows.append(
            f"| {names[config]} | {s['admission_p50_us']:.0f} / {s['admission_p99_us']:.0f} "
            f"| {s['p50_ms_at_1']:.3f} / {s['p99_ms_at_1']:.3f} | {s['rps_at_16']:.0f} |"
        )
    md = "\n".join(
        [
            "# Shared keys and limits (PostgreSQL + Redis) against local ones",
            "",
            f"Measured {meta['when']} on {meta['machine']} ({meta['cpus']} CPUs), Python "
            f"{meta['python']}; PostgreSQL {meta['postgres']}, {meta['redis']}. Stub upstream, "
            "one gateway worker each, loopback; end-to-end numbers are the median of "
            f"{meta['rounds']} alternating rounds. Admission is timed in this process with the "
            "gateway's own Authenticator (key cache TTL 0.5 s, so most lookups are cache hits).",
            "",
            *rows,
            "",
            f"Redis adds {ratios['added_p50_ms_at_1']:+.3f} ms at p50 end to end with 1 in flight "
            f"({ratios['admission_added_p50_us']:+.0f} µs to admission alone, where one bare "
            f"Redis PING took {ratios['redis_ping_p50_us']:.0f} µs at p50); at 16 in flight "
            f"the shared gateway keeps {ratios['throughput_kept_at_16']:.0%} of the local one's "
            "requests/s.",
            "",
            "Targets: " + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in met.items()),
            "",
        ]
    )
    data = {
        "meta": meta,
        "summary": summary,
        "ratios": ratios,
        "targets_met": met,
        "results": [r.__dict__ for r in results],
    }
    return md, data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--requests", type=int, default=2000, help="per round, 1 in flight")
    parser.add_argument("--requests-16", type=int, default=4000, help="per round, 16 in flight")
    parser.add_argument("--admissions", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="shared-limits-bench-"))
    pg, redis = PostgresServer.create(), RedisServer.create()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        targets = {"local": str(work / "keys.db"), "shared": pg.fresh_database("bench")}
        keys = {c: asyncio.run(_create_key(targets[c])) for c in CONFIGS}
        envs = {c: _settings(c, targets[c], redis.url) for c in CONFIGS}
        ports = {"stub": free_port(), **{c: free_port() for c in CONFIGS}}
        base = gateway_env(work / "unused.db")
        with (work / "stub.log").open("wb") as out:
            procs["stub"] = subprocess.Popen(
                [sys.executable, str(STUB), "--port", str(ports["stub"])],
                cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        for config in CONFIGS:
            env = {
                **base,
                **envs[config],
                "GATEWAY_UPSTREAM_URL": f"http://127.0.0.1:{ports['stub']}",
            }
            with (work / f"{config}.log").open("wb") as out:
                procs[config] = subprocess.Popen(
                    [sys.executable, "-m", "gateway", "serve", "--port", str(ports[config])],
                    cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
        for name, proc in procs.items():
            wait_until_healthy(
                f"http://127.0.0.1:{ports[name]}/health", proc, 60, work / f"{name}.log"
            )
        admission = asyncio.run(_admission_us(envs, keys, args.admissions, args.rounds))
        results = asyncio.run(
            _end_to_end(ports, keys, args.requests, args.requests_16, args.rounds)
        )
        meta: dict[str, object] = {
            "when": time.strftime("%Y-%m-%d %H:%M:%S"),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgres": _postgres_version(pg.url),
            "redis": _redis_version(redis.url),
            "rounds": args.rounds,
        }
    finally:
        for proc in procs.values():
            stop_process(proc, grace=10)
        pg.destroy()
        redis.destroy()
    md, data = _report(admission, results, meta)
    write_report(args.out, "shared_limits", data, md)
    return 0


def _postgres_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def _redis_version(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url)
    try:
        info = client.info("server")
    finally:
        client.close()
    if "valkey_version" in info:
        return f"Valkey {info['valkey_version']}"
    return f"Redis {info.get('redis_version', '?')}"


if __name__ == "__main__":
    sys.exit(main())
