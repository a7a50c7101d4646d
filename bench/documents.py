"""Documents: what rendering a page costs beside extracting it, and a 10-page PDF end to end.

    python -m bench.documents --out bench/results     # writes documents.{md,json}

1. **Render vs extract, per page.** One A4 page of dense text and one photo-heavy A4 page,
   each as a one-page PDF, rendered at the size the crop grid uses for num_crops 4 and 16
   (``serve.phi3v.geometry.target_size``: 475x672 and 950x1344). Render time is the median
   of several in-process renders (PDFium + PNG encoding), and separately through the gateway's
   `RenderPool` (a worker process: the price of being able to kill a hung render). Beside it,
   the time the same page takes through ``/v1/extract/invoice`` on the same engine (cpu-dev,
   tiny checkpoint, seeded sampling), and the ratio render / extraction.
2. **A 10-page invoice PDF** through ``/v1/extract/invoice`` at the schema's 16 crops: pages
   per second, and the gateway's peak resident memory (the gateway process and its render
   workers) sampled every 20 ms during the request.

Target (issue 12): rendering is a small fraction of a page's total time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.reports import write_report
from gateway.documents import (
    DocumentLimits,
    PageSelection,
    RenderJob,
    RenderPool,
    render_document,
)
from harness.documents import invoice_pages, pdf_bytes, photo_page, text_page
from harness.engine import start_engine, tree_rss_bytes
from harness.gateway_server import start_gateway
from serve.phi3v.geometry import target_size

__all__ = ["main"]

RENDER_RUNS = 5
EXTRACT_RUNS = 2
PAGES = {"A4 text": text_page(1), "A4 photo": photo_page(1)}
CROPS = (4, 16)


def _job(data: bytes, crops: int) -> RenderJob:
    return RenderJob(data, "pdf", PageSelection(), crops, target_size, DocumentLimits(), "image")


def _render_times(data: bytes, crops: int) -> tuple[float, float, int, tuple[int, int]]:
    """(median in-process s, median pool s, PNG bytes, size) for a one-page PDF."""
    inproc = []
    for _ in range(RENDER_RUNS):
        start = time.perf_counter()
        doc = render_document(_job(data, crops))
        inproc.append(time.perf_counter() - start)
    page = doc.pages[0]

    async def pooled() -> list[float]:
        pool = RenderPool(1)
        try:
            await pool.render(_job(data, crops))  # the worker's start-up is measured apart
            times = []
            for _ in range(RENDER_RUNS):
                start = time.perf_counter()
                await pool.render(_job(data, crops))
                times.append(time.perf_counter() - start)
            return times
        finally:
            await pool.aclose()

    pool_times = asyncio.run(pooled())
    return (statistics.median(inproc), statistics.median(pool_times), len(page.data),
            (page.width, page.height))  # fmt: skip


def _worker_start_s() -> float:
    async def first() -> float:
        pool = RenderPool(1)
        try:
            start = time.perf_counter()
            await pool.render(_job(pdf_bytes([text_page(1)]), 4))
            return time.perf_counter() - start
        finally:
            await pool.aclose()

    return asyncio.run(first())


def _pdf_url(data: bytes) -> str:
    return "data:application/pdf;base64," + base64.b64encode(data).decode()


def _extract(api: httpx.Client, data: bytes, crops: int, seed: int) -> tuple[float, dict[str, Any]]:
    body = {"image_url": _pdf_url(data), "num_crops": crops, "temperature": 1.0, "seed": seed,
            "max_tokens": 512}  # fmt: skip
    start = time.perf_counter()
    r = api.post("/v1/extract/invoice", json=body)
    elapsed = time.perf_counter() - start
    r.raise_for_status()
    return elapsed, r.json()


class _PeakRss:
    """Samples a process tree's RSS in a thread until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(out: Path) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-documents-"))
    engine = start_engine(work)
    gateway = start_gateway(engine.base_url, work)
    rows = []
    try:
        key = gateway.create_key("bench-documents", scopes=["extract"])
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=gateway.base_url, headers=headers, timeout=900) as api:
            for name, page in PAGES.items():
                data = pdf_bytes([page])
                for crops in CROPS:
                    inproc, pooled, png, size = _render_times(data, crops)
                    runs = [_extract(api, data, crops, seed) for seed in range(EXTRACT_RUNS)]
                    extract_s = statistics.median(t for t, _ in runs)
                    rows.append({
                        "page": name, "num_crops": crops, "size": list(size), "png_bytes": png,
                        "render_s": inproc, "render_pool_s": pooled, "extract_s": extract_s,
                        "prompt_tokens": runs[0][1]["usage"]["prompt_tokens"],
                        "ratio": pooled / extract_s,
                    })  # fmt: skip
            ten = pdf_bytes(invoice_pages(10))
            idle_rss = tree_rss_bytes(gateway.proc.pid)
            with _PeakRss(gateway.proc.pid) as peak:
                start = time.perf_counter()
                r = api.post("/v1/extract/invoice", json={
                    "image_url": _pdf_url(ten), "temperature": 1.0, "seed": 1, "max_tokens": 512,
                })  # fmt: skip
                ten_s = time.perf_counter() - start
            r.raise_for_status()
            body = r.json()
        worker_start = _worker_start_s()
    finally:
        gateway.stop()
        engine.stop()
    return {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "worker_start_s": worker_start,
        "pages": rows,
        "ten_pages": {
            "seconds": ten_s, "pages_per_s": 10 / ten_s, "pdf_bytes": len(ten),
            "ok_pages": sum(p["status"] == 200 for p in body["pages"]),
            "prompt_tokens": body["usage"]["prompt_tokens"],
            "gateway_rss_idle_mb": idle_rss / 2**20, "gateway_rss_peak_mb": peak.peak / 2**20,
        },
    }  # fmt: skip


def _markdown(r: dict[str, Any]) -> str:
    lines = [
        "# Documents: render vs extract, and a 10-page PDF",
        "",
        f"{r['machine']['cpus']} CPUs, {r['machine']['platform']}; engine cpu-dev (tiny "
        "checkpoint), gateway one worker, in one run. Render times are medians of "
        f"{RENDER_RUNS}; extraction times medians of {EXTRACT_RUNS} (seeded sampling, "
        "max_tokens 512), end to end through the gateway (render included).",
        "",
        "| page | num_crops | rendered at | PNG | render in-process | render in worker | "
        "extract page | render / extract |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in r["pages"]:
        lines.append(
            f"| {p['page']} | {p['num_crops']} | {p['size'][0]}x{p['size'][1]} | "
            f"{p['png_bytes'] / 1024:.0f} KiB | {p['render_s'] * 1000:.0f} ms | "
            f"{p['render_pool_s'] * 1000:.0f} ms | {p['extract_s']:.2f} s | "
            f"{p['ratio']:.1%} |"
        )
    t = r["ten_pages"]
    lines += [
        "",
        f"A render worker's start-up (spawn, imports, first page): {r['worker_start_s']:.2f} s, "
        "paid once per worker; the in-worker vs in-process difference is the per-document "
        "price of a killable renderer.",
        "",
        "## 10-page invoice PDF through /v1/extract/invoice (16 crops)",
        "",
        "| seconds | pages/s | pages answered | prompt tokens | gateway RSS idle | peak |",
        "|---|---|---|---|---|---|",
        f"| {t['seconds']:.1f} | {t['pages_per_s']:.2f} | {t['ok_pages']}/10 | "
        f"{t['prompt_tokens']:,} | {t['gateway_rss_idle_mb']:.0f} MB | "
        f"{t['gateway_rss_peak_mb']:.0f} MB |",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.documents", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    result = run(args.out)
    write_report(args.out, "documents", result, _markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
