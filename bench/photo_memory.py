"""Memory after photos: a gateway worker's RSS over many small chats with photos among them.

    python -m bench.photo_memory --out bench/results        # 50,000 requests per run
    python -m bench.photo_memory --requests 600 --photo-mp 2   # a smoke run

One gateway worker in front of the stub upstream; ``--concurrency`` connections (4) send
``--requests`` chats in all, every ``--photo-every``-th of them (50th: 1,000 photos in 50,000)
with a 12 MP JPEG as a data URL, the rest small text chats. The worker's RSS is read from
/proc every twentieth of the run (photos may be in flight then), and once more after a second
of idleness at the end. Three runs, fresh gateway processes (``RUNS``):

* **glibc default, no trim**: ``MALLOC_ARENA_MAX`` unset, ``GATEWAY_TRIM_AFTER_DECODES=false``;
* **MALLOC_ARENA_MAX=2, no trim**: two arenas for all threads;
* **trim after decodes**: the gateway's default (``gateway.memory.trim`` when the decode slots
  fall idle), ``MALLOC_ARENA_MAX`` unset.

RSS that levels off (the second half of the run adds little against the first) is memory the
allocator keeps for reuse; RSS that keeps climbing with the photo count would be a leak.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.gateway_overhead import CHAT_BODY, _read_response, _request  # noqa: E402
from bench.json_loop import photo_body  # noqa: E402
from bench.reports import run_meta, write_report  # noqa: E402
from harness.gateway_server import start_gateway, start_stub  # noqa: E402

__all__ = ["main", "rss_mb"]

RUNS: dict[str, dict[str, str]] = {
    "glibc default, no trim": {"GATEWAY_TRIM_AFTER_DECODES": "false"},
    "MALLOC_ARENA_MAX=2, no trim": {"GATEWAY_TRIM_AFTER_DECODES": "false", "MALLOC_ARENA_MAX": "2"},
    "trim after decodes (default)": {},
}
"""Each run's environment for the gateway; ``GATEWAY_*`` are settings."""
IDLE_S = 1.0
SAMPLES = 20


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def _drive(
    port: int, key: str, photo: bytes, requests: int, every: int, conc: int, pid: int
) -> list[dict[str, float]]:
    small, big = _request(port, CHAT_BODY, key), _request(port, photo, key)
    counter = iter(range(requests))
    samples: list[dict[str, float]] = []
    step = max(1, requests // SAMPLES)
    failures: list[int] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in counter:
                writer.write(big if i % every == every - 1 else small)
                status, _ = await _read_response(reader)
                if status != 200:
                    failures.append(status)
                if (i + 1) % step == 0:
                    samples.append({"requests": i + 1, "photos": (i + 1) // every})
                    samples[-1]["rss_mb"] = round(rss_mb(pid), 1)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(conc)))
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return sorted(samples, key=lambda s: s["requests"])


def measure(work: Path, photo: bytes, requests: int, every: int, conc: int) -> dict[str, Any]:
    stub = start_stub(work)
    results: dict[str, Any] = {}
    try:
        for name, env in RUNS.items():
            # start_gateway hands the gateway this process's environment: set or clear it
            saved = os.environ.pop("MALLOC_ARENA_MAX", None)
            settings = {k: v for k, v in env.items() if k.startswith("GATEWAY_")}
            os.environ.update({k: v for k, v in env.items() if k not in settings})
            try:
                server = start_gateway(stub.base_url, work, GATEWAY_WORKERS="1", **settings)
            finally:
                os.environ.pop("MALLOC_ARENA_MAX", None)
                if saved is not None:
                    os.environ["MALLOC_ARENA_MAX"] = saved
            try:
                key = server.create_key("bench", rpm=100_000_000, max_concurrent=1000)
                port, pid = int(server.base_url.rsplit(":", 1)[1]), server.proc.pid
                asyncio.run(_drive(port, key, photo, 20, 10**9, 1, pid))  # warm-up, no photo
                start = rss_mb(pid)
                began = time.perf_counter()
                samples = asyncio.run(_drive(port, key, photo, requests, every, conc, pid))
                half = samples[len(samples) // 2 - 1]["rss_mb"] if len(samples) > 1 else start
                end = samples[-1]["rss_mb"]
                time.sleep(IDLE_S)
                idle = rss_mb(pid)
                results[name] = {
                    "env": env,
                    "start_mb": round(start, 1),
                    "half_mb": half,
                    "end_mb": end,
                    "first_half_growth_mb": round(half - start, 1),
                    "second_half_growth_mb": round(end - half, 1),
                    "idle_after_mb": round(idle, 1),
                    "seconds": round(time.perf_counter() - began, 1),
                    "samples": samples,
                }
            finally:
                server.stop()
        return results
    finally:
        stub.stop()


def report(data: dict[str, Any]) -> str:
    meta = data["meta"]
    lines = [
        "# Memory after photos (one gateway worker)",
        "",
        f"Measured {meta['when']} on {meta['machine']} ({meta['cpus']} CPUs, load average "
        f"{meta['load']} at the start), Python {meta['python']}. {data['requests']:,} chats "
        f"per run over {data['concurrency']} connections, every {data['photo_every']}th a "
        f"{data['photo_mp']} MP JPEG as a data URL ({data['photo_bytes']:,} bytes); stub "
        "upstream. RSS in MB.",
        "",
        "| run | start | half way | end | growth, first half | growth, second half | idle after |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in data["results"].items():
        cells = [r["start_mb"], r["half_mb"], r["end_mb"]]
        cells += [r["first_half_growth_mb"], r["second_half_growth_mb"], r["idle_after_mb"]]
        lines.append(f"| {name} | " + " | ".join(str(c) for c in cells) + " |")
    lines += ["", "RSS through each run (MB, after that many requests):", ""]
    names = list(data["results"])
    lines += [
        "| requests | photos | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    rows = zip(*(data["results"][n]["samples"] for n in names), strict=True)
    for row in rows:
        cells = [f"{row[0]['requests']:,}", str(row[0]["photos"])]
        lines.append("| " + " | ".join(cells + [str(s["rss_mb"]) for s in row]) + " |")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--requests", type=int, default=50_000, help="chats per run")
    parser.add_argument("--photo-every", type=int, default=50, help="every Nth chat is a photo")
    parser.add_argument("--concurrency", type=int, default=4, help="connections")
    parser.add_argument("--photo-mp", type=float, default=12.0, help="the photo's megapixels")
    args = parser.parse_args(argv)
    photo = photo_body(args.photo_mp)
    work = Path(tempfile.mkdtemp(prefix="photo-memory-bench-"))
    data: dict[str, Any] = {
        "meta": run_meta(),
        "requests": args.requests,
        "photo_every": args.photo_every,
        "concurrency": args.concurrency,
        "photo_mp": args.photo_mp,
        "photo_bytes": len(photo),
    }
    data["results"] = measure(work, photo, args.requests, args.photo_every, args.concurrency)
    write_report(args.out, "photo_memory", data, report(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
