"""The decode pool never runs more than its limit at once, and runs that many when asked."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from gateway.images.decodes import DecodeSlots, default_decode_concurrency


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_no_more_than_limit_run_at_once(limit: int) -> None:
    slots = DecodeSlots(limit)
    running = 0
    most = 0
    lock = threading.Lock()

    def work(i: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return i * 2

    results: list[int] = []

    async def main() -> None:
        async def one(i: int) -> None:
            results.append(await slots.run(work, i))

        async with anyio.create_task_group() as tg:
            for i in range(12):
                tg.start_soon(one, i)

    anyio.run(main)
    assert sorted(results) == [i * 2 for i in range(12)]
    assert most == limit  # the bound held, and was reached
    assert slots.peak == limit and slots.active == 0


def test_errors_propagate_and_free_the_slot() -> None:
    slots = DecodeSlots(1)

    def boom() -> None:
        raise OSError("truncated")

    async def main() -> None:
        with pytest.raises(OSError, match="truncated"):
            await slots.run(boom)
        assert await slots.run(lambda: 7) == 7

    anyio.run(main)
    assert slots.active == 0


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DecodeSlots(0)


def test_default_is_the_cpus_this_process_may_use() -> None:
    assert 1 <= default_decode_concurrency()
