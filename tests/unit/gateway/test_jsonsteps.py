"""A large body parsed in steps is exactly ``json.loads`` of it, and lets the loop run between
steps; anything the shortcut cannot vouch for is parsed whole."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any

import pytest

from gateway.bodies import parse_json_body
from gateway.errors import GatewayError
from gateway.jsonsteps import cut_strings, parse_in_steps

PHOTO = "data:image/jpeg;base64," + base64.b64encode(os.urandom(300_000)).decode()


def _chat(*urls: str, text: str = "what is this?") -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    parts += [{"type": "image_url", "image_url": {"url": u}} for u in urls]
    return {"model": "m", "messages": [{"role": "user", "content": parts}], "max_tokens": 5}


BODIES = [
    json.dumps(_chat(PHOTO)).encode(),
    json.dumps(_chat(PHOTO, PHOTO[:-7] + "AAAAAA=")).encode(),
    json.dumps(_chat(PHOTO), ensure_ascii=False, indent=2).encode(),
    json.dumps(_chat(PHOTO)).replace("/", "\\/").encode(),  # PHP's json_encode
    json.dumps(_chat(PHOTO, text='say "data:' + "x" * 5000 + '" please')).encode(),
    json.dumps(_chat("data:text/plain;charset=utf-8," + "é☃" * 3000), ensure_ascii=False).encode(),
    json.dumps(_chat("data:," + "\\n" * 3000)).encode(),  # an escape inside: parsed whole
    json.dumps({"data:" + "k" * 5000: PHOTO}).encode(),  # a data: key
    json.dumps([PHOTO, {"a": [PHOTO]}]).encode(),
    b"\xef\xbb\xbf" + json.dumps(_chat(PHOTO)).encode(),  # a UTF-8 byte order mark
    json.dumps(_chat(PHOTO)).encode("utf-16"),
]


@pytest.mark.parametrize("raw", BODIES)
def test_the_result_is_json_loads(raw: bytes) -> None:
    assert asyncio.run(parse_in_steps(raw, step=65_536)) == json.loads(raw)


@pytest.mark.parametrize("raw", [BODIES[0], BODIES[1], BODIES[3], BODIES[5], BODIES[8]])
def test_json_loads_reads_only_the_small_rest(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    loads = json.loads

    def recording(text: bytes) -> Any:
        sizes.append(len(text))
        return loads(text)

    monkeypatch.setattr("gateway.jsonsteps.json.loads", recording)
    assert asyncio.run(parse_in_steps(raw)) == loads(raw)
    assert sizes and max(sizes) < 1000


def test_photos_are_cut_out_and_the_rest_is_small() -> None:
    skeleton, strings = cut_strings(BODIES[1], "n", 4096)
    assert len(strings) == 2 and len(skeleton) < 400
    assert strings[0].decode() == PHOTO


def test_a_data_url_inside_another_string_is_not_cut() -> None:
    raw = json.dumps({"text": 'a \\"data:' + "x" * 5000 + '" b'}).encode()
    assert cut_strings(raw, "n", 4096)[1] == []


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(_chat(PHOTO)).encode()[:-1],  # truncated
        json.dumps(_chat(PHOTO)).encode().replace(PHOTO[-9:].encode(), b"\x01" + b"A" * 8),
        json.dumps(_chat(PHOTO)).encode().replace(PHOTO[-9:].encode(), b"\xff" + b"A" * 8),
    ],
)
def test_an_invalid_body_fails_as_json_loads_does(raw: bytes) -> None:
    with pytest.raises(ValueError) as inline:
        json.loads(raw)
    with pytest.raises(ValueError) as stepped:
        asyncio.run(parse_in_steps(raw))
    assert type(stepped.value) is type(inline.value) and str(stepped.value) == str(inline.value)


def test_other_requests_run_between_the_steps() -> None:
    raw = json.dumps(_chat(PHOTO)).encode()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    async def main() -> None:
        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        before = ticks
        await parse_in_steps(raw, step=50_000)
        assert ticks - before >= len(PHOTO) // 50_000
        task.cancel()

    asyncio.run(main())


def test_small_bodies_and_large_ones_give_the_same_answers_and_errors() -> None:
    raw = BODIES[0]
    assert asyncio.run(parse_json_body(raw, 1 << 30)) == asyncio.run(parse_json_body(raw, 1024))
    for bad in (raw[:-1], b"[" + raw + b"]"):
        with pytest.raises(GatewayError) as inline:
            asyncio.run(parse_json_body(bad, 1 << 30))
        with pytest.raises(GatewayError) as stepped:
            asyncio.run(parse_json_body(bad, 1024))
        assert stepped.value.body() == inline.value.body()
