"""Small requests while photos are in flight: what parsing a large body costs everyone else.

    python -m bench.json_loop --out bench/results      # writes json_loop.{md,json}
    python -m bench.json_loop --small 40 --photo-mp 2  # a smoke run

One gateway worker in front of the stub upstream; ``--photos`` connections (8) send a 12 MP
photo as a data URL (~7 MB of JSON) again and again while one connection sends small text
chats one at a time, and the small chats' latency is recorded. Side by side, with fresh
gateway processes:

* **idle**: the small chats alone;
* **inline**: photos in flight, every body parsed in one ``json.loads`` on the event loop
  (``GATEWAY_JSON_STEPS_THRESHOLD_BYTES`` above the body cap: how it was);
* **in steps**: photos in flight, bodies over 1 MiB parsed in steps that yield to the loop
  (``gateway.jsonsteps``, the default).

The photos also cost the worker their checks, base64 decoding and pre-sizing (in decode
threads); only the parsing differs between the two runs. Report: p50, p99 and max of the small
chats, and photos per second.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.gateway_overhead import CHAT_BODY, _read_response, _request  # noqa: E402
from bench.image_path import _chat, _encode, _photo  # noqa: E402
from bench.reports import run_meta, write_report  # noqa: E402
from harness.gateway_server import start_gateway, start_stub  # noqa: E402
from loadtest.stats import percentile  # noqa: E402

__all__ = ["main", "photo_body"]

MODES = {"inline": str(1 << 40), "in steps": None}
"""``GATEWAY_JSON_STEPS_THRESHOLD_BYTES`` per run; None: the default (1 MiB)."""


def photo_body(megapixels: float) -> bytes:
    """A chat with one noisy camera-like JPEG (quality 90) of about ``megapixels``."""
    width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    jpeg = _encode(_photo(width, width * 3 // 4, 1), "JPEG", quality=90)
    url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    return json.dumps(_chat(url)).encode()


async def _photo_loop(port: int, payload: bytes, stop: asyncio.Event, done: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while not stop.is_set():
            writer.write(payload)
            status, _ = await _read_response(reader)
            done.append(status)
    finally:
        writer.close()


async def _small(port: int, key: str, count: int) -> list[float]:
    payload = _request(port, CHAT_BODY, key)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    latencies: list[float] = []
    try:
        for _ in range(count):
            start = time.perf_counter()
            writer.write(payload)
            status, _ = await _read_response(reader)
            if status != 200:
                raise RuntimeError(f"a small chat got {status}")
            latencies.append(time.perf_counter() - start)
            await asyncio.sleep(0.005)  # a steady trickle, not a flood
    finally:
        writer.close()
    return latencies


async def _measure(port: int, key: str, photo: bytes | None, photos: int, small: int) -> Any:
    stop = asyncio.Event()
    done: list[int] = []
    loops = []
    if photo is not None:
        payload = _request(port, photo, key)
        loops = [asyncio.create_task(_photo_loop(port, payload, stop, done)) for _ in range(photos)]
        while len(done) < photos:  # every photo connection is going
            await asyncio.sleep(0.05)
    done.clear()
    start = time.perf_counter()
    latencies = await _small(port, key, small)
    elapsed = time.perf_counter() - start
    stop.set()
    await asyncio.gather(*loops)
    ms = [t * 1000 for t in latencies]
    return {
        "small": len(ms),
        "p50_ms": round(percentile(ms, 50) or 0.0, 2),
        "p99_ms": round(percentile(ms, 99) or 0.0, 2),
        "max_ms": round(max(ms), 2),
        "photos_per_s": round(len(done) / elapsed, 1),
        "photo_errors": sum(status != 200 for status in done),
    }


def measure(work: Path, photo: bytes, photos: int, small: int) -> dict[str, Any]:
    stub = start_stub(work)
    try:
        results: dict[str, Any] = {}
        for mode, threshold in [("idle", None), *MODES.items()]:
            extra = {"GATEWAY_JSON_STEPS_THRESHOLD_BYTES": threshold} if threshold else {}
            server = start_gateway(stub.base_url, work, GATEWAY_WORKERS="1", **extra)
            try:
                key = server.create_key("bench", rpm=10_000_000, max_concurrent=1000)
                port = int(server.base_url.rsplit(":", 1)[1])
                asyncio.run(_measure(port, key, None, 0, 20))  # warm-up
                body = None if mode == "idle" else photo
                results[mode] = asyncio.run(_measure(port, key, body, photos, small))
            finally:
                server.stop()
        return results
    finally:
        stub.stop()


def report(data: dict[str, Any]) -> str:
    meta = data["meta"]
    lines = [
        "# Small requests while photos are in flight (one gateway worker)",
        "",
        f"Measured {meta['when']} on {meta['machine']} ({meta['cpus']} CPUs, load average "
        f"{meta['load']} at the start), Python {meta['python']}. {data['photos']} connections "
        f"send a {data['photo_mp']} MP JPEG as a data URL ({data['photo_bytes']:,} bytes of "
        f"JSON) while {data['small']} small chats go one at a time; stub upstream.",
        "",
        "| run | small p50 ms | small p99 ms | small max ms | photos/s | photo errors |",
        "|---|---|---|---|---|---|",
    ]
    for mode, r in data["results"].items():
        cells = [r["p50_ms"], r["p99_ms"], r["max_ms"], r["photos_per_s"], r["photo_errors"]]
        lines.append(f"| {mode} | " + " | ".join(str(c) for c in cells) + " |")
    lines += [
        "",
        "`inline`: every body parsed by one `json.loads` on the event loop; `in steps`: "
        "bodies over 1 MiB parsed by `gateway.jsonsteps` (the default). Wall times depend on "
        "what else the machine runs; compare runs of one report only.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--photos", type=int, default=8, help="photo requests in flight")
    parser.add_argument("--small", type=int, default=1000, help="small chats measured per run")
    parser.add_argument("--photo-mp", type=float, default=12.0, help="the photo's megapixels")
    args = parser.parse_args(argv)
    photo = photo_body(args.photo_mp)
    work = Path(tempfile.mkdtemp(prefix="json-loop-bench-"))
    data: dict[str, Any] = {
        "meta": run_meta(),
        "photos": args.photos,
        "small": args.small,
        "photo_mp": args.photo_mp,
        "photo_bytes": len(photo),
    }
    data["results"] = measure(work, photo, args.photos, args.small)
    write_report(args.out, "json_loop", data, report(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
