"""Background bodies carry the gateway's priority; input files are split without holding a
line past the cap; clients cannot send priority."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

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
