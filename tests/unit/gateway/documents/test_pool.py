"""The render pool: worker processes reused, a hung render killed, a crash survived."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from gateway.documents import DocumentError, DocumentLimits, PageSelection, RenderJob, RenderPool
from gateway.documents.pool import KILL_GRACE_S
from gateway.documents.render import TargetSize
from tests.support.documents import (
    crashing_target,
    hanging_target,
    invoice_pages,
    pdf_bytes,
    scaled_target,
)

PDF = pdf_bytes(invoice_pages(2))


def job(target: TargetSize = scaled_target, timeout_s: float = 30.0) -> RenderJob:
    limits = DocumentLimits(render_timeout_s=timeout_s)
    return RenderJob(PDF, "pdf", PageSelection(), 4, target, limits, "image_url")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (killed, not yet reaped) counts as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.anyio
async def test_documents_render_in_a_reused_worker_process() -> None:
    pool = RenderPool(workers=1)
    try:
        first = await pool.render(job())
        second = await pool.render(job())
        assert [p.number for p in first.pages] == [1, 2] and first.pages == second.pages
        assert pool.started == 1
        (pid,) = pool.pids()
        assert pid != os.getpid() and alive(pid)
    finally:
        await pool.aclose()
    assert not alive(pid)


@pytest.mark.anyio
async def test_a_hung_render_is_killed_at_the_deadline_and_the_pool_recovers() -> None:
    pool = RenderPool(workers=1)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        await pool.render(job())
        (pid,) = pool.pids()
        started, ticks = time.monotonic(), 0
        with pytest.raises(DocumentError) as caught:
            await pool.render(job(hanging_target, timeout_s=0.5))
        waited = time.monotonic() - started
        assert ticks > 20  # the event loop ran all along
        assert (caught.value.status, caught.value.code) == (413, "document_render_timeout")
        assert caught.value.param == "image_url"
        assert "GATEWAY_DOCUMENT_RENDER_TIMEOUT_S" in caught.value.message
        assert waited < 0.5 + KILL_GRACE_S + 5  # the deadline held (generous: shared CI box)
        assert not alive(pid)
        assert len((await pool.render(job())).pages) == 2
        assert pool.started == 2
    finally:
        ticker.cancel()
        await pool.aclose()


@pytest.mark.anyio
async def test_a_crashed_worker_is_a_400_and_is_replaced() -> None:
    pool = RenderPool(workers=1)
    try:
        with pytest.raises(DocumentError) as caught:
            await pool.render(job(crashing_target))
        assert (caught.value.status, caught.value.code) == (400, "document_corrupt")
        assert len((await pool.render(job())).pages) == 2
        assert pool.started == 2
    finally:
        await pool.aclose()


@pytest.mark.anyio
async def test_no_more_than_the_pool_size_render_at_once() -> None:
    pool = RenderPool(workers=2)
    try:
        results = await asyncio.gather(*(pool.render(job()) for _ in range(5)))
        assert all(len(r.pages) == 2 for r in results)
        assert pool.started == 2
    finally:
        await pool.aclose()
