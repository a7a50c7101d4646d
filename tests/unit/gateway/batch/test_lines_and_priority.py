"""Background bodies carry the gateway's priority; input files are split without holding a
line past the cap; clients cannot send priority."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from gateway.auth.admission import LocalLimiter
from gateway.batch.lines import LineRunner
from gateway.batch.store import Unit
from gateway.batch.validate import split_lines
from gateway.caps import check_generation
from gateway.errors import GatewayError
from gateway.settings import Settings
from gateway.upstream import with_priority


def test_priority_is_spliced_into_the_body() -> None:
    assert json.loads(with_priority(b'{"model":"m","n":1}', 10)) == {
        "model": "m",
        "n": 1,
        "priority": 10,
    }
    assert json.loads(with_priority(b"{}", 3)) == {"priority": 3}


def test_a_client_priority_is_refused() -> None:
    with pytest.raises(GatewayError) as refused:
        check_generation({"priority": -1}, Settings(), ("max_tokens",))
    assert refused.value.status == 400 and refused.value.param == "priority"


def test_lines_over_the_cap_are_marked_not_kept() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for piece in (b"ab\nxxxx", b"xxxxxx", b"x\ncd", b"\n\nef"):
            yield piece

    async def collect() -> list[bytes | None]:
        return [line async for line in split_lines(chunks(), limit=5)]

    assert asyncio.run(collect()) == [b"ab", None, b"cd", b"", b"ef"]


@pytest.mark.parametrize(("max_concurrent", "background"), [(4, 3), (2, 1), (1, 1), (None, None)])
def test_background_calls_leave_the_key_one_slot(
    max_concurrent: int | None, background: int | None
) -> None:
    runner = LineRunner(Settings(), None, LocalLimiter(), None, None, None)  # type: ignore[arg-type]
    unit = Unit("b:1", "b", 1, "c", "{}", "/v1/chat/completions", "sk-x", "alice", 0, "t")
    unit = replace(unit, max_concurrent=max_concurrent)
    assert runner._slots(unit).limit == background


def test_background_calls_wait_while_the_key_is_busy_interactively() -> None:
    limiter = LocalLimiter()
    runner = LineRunner(Settings(), None, limiter, None, None, None)  # type: ignore[arg-type]
    unit = Unit("b:1", "b", 1, "c", "{}", "/v1/chat/completions", "sk-x", "alice", 0, "t", 3)

    async def scenario() -> list[str]:
        order: list[str] = []
        interactive = [await limiter.acquire("alice", 3) for _ in range(2)]  # 2 of 3 in use

        async def background() -> None:
            async with runner._slots(unit).call():
                order.append("background")

        task = asyncio.create_task(background())
        await asyncio.sleep(0.05)
        order.append("interactive done")
        interactive[0].release()
        await task
        interactive[1].release()
        return order

    assert asyncio.run(scenario()) == ["interactive done", "background"]
