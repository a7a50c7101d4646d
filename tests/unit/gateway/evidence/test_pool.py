"""The OCR pool: pages are read in worker processes; one past its time cap is killed and the
caller gets an `OcrError` it can answer around, while the event loop keeps serving."""

from __future__ import annotations

import asyncio
import io
import os
import time

import pytest

from gateway.evidence import OcrError, OcrPool
from gateway.settings import Settings
from tests.support.pages import invoice_page, page_image


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.anyio
async def test_the_real_engine_reads_a_page_in_a_worker() -> None:
    buffer = io.BytesIO()
    page_image(invoice_page(), 150).save(buffer, format="PNG")
    pool = OcrPool(workers=1, page_timeout_s=30)
    try:
        words = await pool.read(buffer.getvalue(), page=4)
    finally:
        await pool.aclose()
    assert words.page == 4 and words.source == "ocr"
    assert words.engine is not None and words.engine.startswith("tesseract 5")
    assert "INV-2026-0042" in [w.text for w in words.words]


@pytest.mark.anyio
async def test_a_page_past_its_cap_is_stopped_and_the_loop_keeps_serving() -> None:
    pool = OcrPool(workers=1, page_timeout_s=1.0, reader="tests.support.ocr_readers:hanging")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        await pool.read(b"fast", 1)  # the worker is up (start-up is not in the cap)
        (pid,) = pool.pids()
        started = time.monotonic()
        with pytest.raises(OcrError) as caught:
            await pool.read(b"slow page", 2)
        assert caught.value.reason == "timeout" and caught.value.page == 2
        assert "GATEWAY_OCR_PAGE_TIMEOUT_S" in str(caught.value)
        assert time.monotonic() - started < 5
        assert ticks >= 10, "the event loop was blocked while the page was read"
        assert not _alive(pid), "the stuck worker was not killed"
        words = await pool.read(b"fast", 3)  # a fresh worker takes the next page
        assert words.page == 3 and pool.started == 2
    finally:
        task.cancel()
        await pool.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("reader", ["crashing", "raising"])
async def test_a_worker_that_dies_or_raises_is_a_failed_page_not_a_failed_pool(
    reader: str,
) -> None:
    pool = OcrPool(workers=1, page_timeout_s=10, reader=f"tests.support.ocr_readers:{reader}")
    try:
        with pytest.raises(OcrError) as caught:
            await pool.read(b"page", 1)
        assert caught.value.reason == "failed"
    finally:
        await pool.aclose()


@pytest.mark.anyio
async def test_at_most_workers_pages_are_read_at_once() -> None:
    pool = OcrPool(workers=2, page_timeout_s=10, reader="tests.support.ocr_readers:echo")
    try:
        answers = await asyncio.gather(*(pool.read(b"x" * n, n) for n in range(1, 6)))
        assert [a.page for a in answers] == [1, 2, 3, 4, 5]
        assert [a.words[0].text for a in answers] == ["1", "2", "3", "4", "5"]
        assert pool.started == 2
    finally:
        await pool.aclose()


def test_the_page_cap_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().ocr_page_timeout_s == 15.0
    monkeypatch.setenv("GATEWAY_OCR_PAGE_TIMEOUT_S", "2.5")
    assert Settings().ocr_page_timeout_s == 2.5
    with pytest.raises(ValueError):
        OcrPool(workers=1, page_timeout_s=0)
