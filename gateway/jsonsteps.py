"""Parse a large JSON body in short steps, so that other requests run in between.

A body of several megabytes is nearly always one or a few images as data URLs. ``json.loads``
reads such a string one character at a time in C while holding the GIL: about 12 ms for a 12 MP
photo (~7 MB) on an idle core, during which nothing else on the event loop runs; a thread does
not help, and a process pool made it worse (its feeder and result threads pickle the 7 MB each
way while holding the GIL: measured in ``docs/gateway.md``). Yet a base64 data URL needs none of
what makes JSON strings slow: it has no escapes, so its value is its bytes.

So each string that starts with ``data:`` and is longer than ``min_split`` is cut out of the
body and replaced by a short placeholder; the small rest is parsed with ``json.loads``, and the
cut strings are checked (no escape but ``\\/``, no control character, valid UTF-8) and decoded
in steps of ``step`` bytes, yielding to the loop between steps, then put back where their
placeholders are. The result equals ``json.loads(raw)``. Whenever it might not (a cut string
with other escapes, a placeholder found as a key or not at all, a body that is not valid JSON),
the body is parsed whole with ``json.loads``, so errors read the same as on the inline path.

    payload = await parse_in_steps(raw)      # == json.loads(raw), in steps of <= 1 MiB
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

__all__ = ["parse_in_steps", "cut_strings", "STEP"]

STEP = 1 << 20
"""Bytes of a cut string checked per step; about half a millisecond each."""
_MARK = b'"data:'
_CONTROL = bytes(range(0x20))


async def parse_in_steps(raw: bytes, *, min_split: int = 4096, step: int = STEP) -> Any:
    """``json.loads(raw)``, yielding to the event loop between steps of ``step`` bytes."""
    nonce = os.urandom(8).hex()
    skeleton, strings = cut_strings(raw, nonce, min_split)
    if not strings:
        return json.loads(raw)
    values: list[str] = []
    for segment in strings:
        value = await _decode(segment, step)
        if value is None:
            return json.loads(raw)
        values.append(value)
    try:
        payload = json.loads(skeleton)
    except ValueError:
        return json.loads(raw)  # the error as the inline path words it
    placed = _put_back(payload, f"\x00{nonce}:", values)
    if placed != len(values):
        return json.loads(raw)
    return payload


def cut_strings(raw: bytes, nonce: str, min_split: int) -> tuple[bytes, list[bytes]]:
    """The body with each long ``"data:…"`` string replaced by ``"\\u0000NONCE:i"``, and the
    bytes of those strings (without their quotes)."""
    pieces: list[bytes] = []
    strings: list[bytes] = []
    pos = 0
    start = raw.find(_MARK)
    while start >= 0:
        if _escaped(raw, start):  # a quote inside another string
            start = raw.find(_MARK, start + 1)
            continue
        end = raw.find(b'"', start + 1)
        while end > 0 and _escaped(raw, end):
            end = raw.find(b'"', end + 1)
        if end < 0:
            break
        if end - start - 1 >= min_split:
            pieces.append(raw[pos:start])
            pieces.append(f'"\\u0000{nonce}:{len(strings)}"'.encode())
            strings.append(raw[start + 1 : end])
            pos = end + 1
        start = raw.find(_MARK, end + 1)
    if not strings:
        return raw, []
    pieces.append(raw[pos:])
    return b"".join(pieces), strings


def _escaped(raw: bytes, quote: int) -> bool:
    """Is the quote at ``quote`` preceded by an odd number of backslashes?"""
    count = 0
    while quote - count > 0 and raw[quote - count - 1] == 0x5C:
        count += 1
    return count % 2 == 1


async def _decode(segment: bytes, step: int) -> str | None:
    """The string's value, or None when only ``json.loads`` can say what it is."""
    if b"\\" in segment:
        segment = segment.replace(b"\\/", b"/")  # PHP's json_encode escapes every slash
        if b"\\" in segment:
            return None
    for offset in range(0, len(segment), step):
        chunk = segment[offset : offset + step]
        if len(chunk.translate(None, _CONTROL)) != len(chunk):
            return None  # json.loads refuses a raw control character; let it say so
        await asyncio.sleep(0)
    try:
        return segment.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None


def _put_back(node: Any, prefix: str, values: list[str]) -> int:
    """Replace each placeholder string in ``node`` by its value; how many were replaced."""
    placed = 0
    items: Any = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, str):
            if value.startswith(prefix):
                node[key] = values[int(value[len(prefix) :])]
                placed += 1
        elif isinstance(value, dict | list):
            placed += _put_back(value, prefix, values)
    return placed
