"""The decode pool never runs more than its limit at once, and runs that many when asked."""

from __future__ import annotations

import platform
import threading
import time

import anyio
import pytest

from gateway.images.decodes import DecodeSlots, default_decode_concurrency
from gateway.memory import trim


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


def _overlapping(slots: DecodeSlots, count: int) -> None:
    """``count`` decodes that all start before any ends."""
    started = threading.Barrier(count, timeout=5)

    def work() -> None:
        started.wait()

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(slots.run, work)

    anyio.run(main)


def test_freed_memory_goes_back_once_the_slots_fall_idle() -> None:
    slots = DecodeSlots(3)
    _overlapping(slots, 3)
    assert slots.trims == 1  # not after the first two, which ended with others in flight


def test_trimming_can_be_turned_off() -> None:
    slots = DecodeSlots(2, trim=False)
    _overlapping(slots, 2)
    assert slots.trims == 0


def test_trim_returns_memory_where_glibc_is_there() -> None:
    blocks = [bytearray(1 << 20) for _ in range(64)]
    del blocks
    assert trim() is (platform.libc_ver()[0] == "glibc")
