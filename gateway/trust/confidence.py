r"""Per-field confidence: the generated tokens' probabilities mapped onto the JSON answer.

vLLM returns one log-probability per generated token (``choices[0].logprobs.content``: a list
of ``{"token", "logprob", "bytes", "top_logprobs"}``). This module finds which tokens spelled
each leaf of the answer and turns their probabilities into one number per leaf, keyed by JSON
Pointer (RFC 6901: ``/line_items/2/amount``; ``~`` is written ``~0`` and ``/`` ``~1``).

**The formula.** A leaf's *value span* is the text of its value only:

- a string: the characters between its quotes, in their escaped JSON form (``\n``, ``\"``,
  ``\u00e9`` included); an empty string ``""``: its two quotes;
- a number, ``true``, ``false`` or ``null``: the literal;
- an empty list or object (``[]``, ``{}``, which hold no scalar to score): its brackets.

A token belongs to a leaf when the bytes it produced overlap the leaf's value span, so keys,
``":"``, commas and brackets count only where a token fuses them with value characters (a
token ``"1`` counts for the number it starts). The leaf's confidence is the **minimum**
probability ``exp(logprob)`` over its tokens: a value is as trustworthy as its least certain
token, a single doubtful digit in a passport number shows, and the number does not fall with
the value's length the way a product would. Tokens without a logprob are ignored; a leaf with
none left gets 0. Values are rounded to 6 decimals.

**Known limit.** vLLM applies the grammar's token mask to the logits *before* it computes
log-probabilities (its default ``logprobs_mode`` is ``raw_logprobs``, taken from the logits the
sampler receives, which xgrammar has already masked). The distribution is therefore over the
tokens the schema allowed: a token the grammar forces (the only legal one: a closing quote
after 64 characters, a fixed enum suffix, the ``e`` of ``true`` once ``tru`` is out) has
probability 1, and a value the grammar pins completely scores 1 whatever the model believed.
Confidence says how sure the model was *among valid answers*, not whether the schema fits.

**Partial UTF-8.** A token can hold part of a character (the byte-level BPE splits ``呅``
into three byte tokens). vLLM 0.32 reports the leading ones with an empty ``token`` and empty
``bytes`` and gives the whole character to the token that completes it (recorded in
``tests/unit/gateway/fixtures/logprobs``). So an empty token takes the span of the next token
that produced bytes: all three count for the character. Empty tokens whose bytes never
complete a character (a random model can write them) show in the content as U+FFFD and take
the span of those replacement characters. Servers that send each token's raw
``bytes`` (OpenAI) align exactly. Some report partial tokens as ``U+FFFD`` instead: a run of
tokens that does not match gets the whole span up to where the next clean tokens match (at
least 4 bytes of them, or up to the end), and a leaf overlapping that span counts the run.

    >>> import math
    >>> tokens = [{"token": t, "logprob": math.log(p)} for t, p in
    ...           [('{"', 1.0), ("n", 1.0), ('":', 1.0), ("4", 0.5), ("2", 0.8), ("}", 1.0)]]
    >>> field_confidence('{"n":42}', tokens)
    {'/n': 0.5}
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

__all__ = [
    "AlignmentError",
    "TokenLogprob",
    "align_tokens",
    "field_confidence",
    "json_pointer",
    "leaf_spans",
    "parse_logprobs",
]

_REPLACEMENT = "\ufffd".encode()
_ANCHOR_BYTES = 4
"""Clean bytes an anchor needs before it is trusted to mark the end of an unmatched run."""
_DECIMALS = 6
_SPECIAL = re.compile(rb"<\|[A-Za-z0-9_.-]+\|>|</?s>")
"""A tokenizer's special token as vLLM lists it in ``logprobs`` (``<|placeholder33|>``,
``<|end|>``, ``</s>``): it is dropped from the message content (``skip_special_tokens``)."""
_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_LITERALS = ("true", "false", "null")


class AlignmentError(ValueError):
    """The tokens do not spell the answer text, so no leaf can be scored honestly."""


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token: the bytes it produced and its log-probability (None if absent)."""

    data: bytes
    logprob: float | None

    @property
    def clean(self) -> bool:
        """False when the server replaced part of the token with U+FFFD (partial UTF-8)."""
        return _REPLACEMENT not in self.data


def parse_logprobs(content: Sequence[Mapping[str, Any]]) -> list[TokenLogprob]:
    """vLLM's/OpenAI's ``logprobs.content`` entries as `TokenLogprob`.

    ``bytes`` wins over ``token`` when present: it is exact on servers that send raw bytes.
    """
    tokens = []
    for entry in content:
        raw = entry.get("bytes")
        data = bytes(raw) if raw is not None else str(entry.get("token", "")).encode()
        logprob = entry.get("logprob")
        tokens.append(TokenLogprob(data, None if logprob is None else float(logprob)))
    return tokens


def json_pointer(parts: Sequence[str | int]) -> str:
    """RFC 6901 pointer from path parts: ``["a/b", 0]`` → ``/a~1b/0``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def leaf_spans(text: str) -> dict[str, tuple[int, int]]:
    """Every leaf of the JSON document ``text``: pointer → value span (character offsets).

    Raises ``ValueError`` when ``text`` is not one JSON value (only whitespace around it).
    """
    spans: dict[str, tuple[int, int]] = {}
    end = _skip_ws(text, _scan(text, _skip_ws(text, 0), "", spans))
    if end != len(text):
        raise ValueError(f"extra data after the JSON value at character {end}")
    return spans


def _skip_ws(text: str, i: int) -> int:
    match = _WS.match(text, i)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _expect(text: str, i: int, char: str) -> int:
    if not text.startswith(char, i):
        raise ValueError(f"expected {char!r} at character {i}")
    return i + 1


def _scan(text: str, i: int, pointer: str, spans: dict[str, tuple[int, int]]) -> int:
    """Scan one value starting at ``i``; record its leaves; return the index after it."""
    char = text[i : i + 1]
    if char in ("{", "["):
        return _scan_container(text, i, pointer, spans)
    if char == '"':
        _, end = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
        spans[pointer] = (i + 1, end - 1) if end - i > 2 else (i, end)
        return int(end)
    for literal in _LITERALS:
        if text.startswith(literal, i):
            spans[pointer] = (i, i + len(literal))
            return i + len(literal)
    number = _NUMBER.match(text, i)
    if number is None:
        raise ValueError(f"expected a JSON value at character {i}")
    spans[pointer] = number.span()
    return number.end()


def _scan_container(text: str, start: int, pointer: str, spans: dict[str, tuple[int, int]]) -> int:
    is_object = text[start] == "{"
    close = "}" if is_object else "]"
    i = _skip_ws(text, start + 1)
    if text.startswith(close, i):
        spans[pointer] = (start, i + 1)
        return i + 1
    index = 0
    while True:
        if is_object:
            key, i = json.decoder.scanstring(text, _expect(text, i, '"'))  # type: ignore[attr-defined]
            i = _skip_ws(text, _expect(text, _skip_ws(text, i), ":"))
            child = pointer + json_pointer([key])
        else:
            child = pointer + json_pointer([index])
        i = _skip_ws(text, _scan(text, i, child, spans))
        index += 1
        if text.startswith(",", i):
            i = _skip_ws(text, i + 1)
            continue
        return _expect(text, i, close)


def align_tokens(tokens: Sequence[TokenLogprob], data: bytes) -> list[tuple[int, int]]:
    """Byte span of ``data`` that each token produced, in order.

    Clean tokens must match exactly where the previous one ended; an empty token shares the
    span of the next token that is not empty. A run starting with an unclean token (partial
    UTF-8 shown as U+FFFD) gets the span up to where the next clean tokens match. Tokens
    after the end of ``data`` (a stop token such as ``<|end|>``), and special tokens anywhere
    (vLLM keeps them out of the content but lists them; a random-weight model can write one
    inside a string) get empty spans. Raises `AlignmentError` when a clean token does not
    match, or the bytes are not all covered.
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    i = 0
    pending = 0  # empty tokens so far: the leading bytes of what the next token completes
    while i < len(tokens):
        token = tokens[i]
        if not token.data:
            pending += 1
            i += 1
            continue
        if token.clean and data.startswith(token.data, pos):
            spans.extend([(pos, pos + len(token.data))] * (pending + 1))
            pos += len(token.data)
            i += 1
        elif token.clean and _SPECIAL.fullmatch(token.data):
            spans.extend([(pos, pos)] * (pending + 1))  # produced no text in the content
            i += 1
        elif pending and (end := _replaced(data, pos)) > pos:
            # Empty tokens whose bytes never made a whole character: the content shows them
            # as U+FFFD, and they take that span; the token at hand is matched next round.
            spans.extend([(pos, end)] * pending)
            pos = end
            pending = 0
            continue
        elif token.clean:
            if pos < len(data):
                raise AlignmentError(f"token {i} {token.data!r} does not match at byte {pos}")
            spans.extend([(pos, pos)] * (pending + 1))  # a stop token after the answer
            i += 1
        else:
            j, end = _resync(tokens, i, data, pos)
            spans.extend([(pos, end)] * (pending + j - i))
            pos, i = end, j
        pending = 0
    spans.extend([(pos, pos)] * pending)
    if pos != len(data):
        raise AlignmentError(f"the tokens spell {pos} of the answer's {len(data)} bytes")
    return spans


def _replaced(data: bytes, pos: int) -> int:
    """The end of the run of U+FFFD characters at ``pos`` (``pos`` if there is none)."""
    while data.startswith(_REPLACEMENT, pos):
        pos += len(_REPLACEMENT)
    return pos


def _resync(tokens: Sequence[TokenLogprob], i: int, data: bytes, pos: int) -> tuple[int, int]:
    """The first token after ``i`` whose clean run matches ahead, and where it matches.

    The anchor (clean tokens from ``j`` on) must be long enough to be unambiguous, or be cut
    short by an unclean token or by the end of ``data``.
    """
    for j in range(i + 1, len(tokens)):
        if not tokens[j].clean or not tokens[j].data:
            continue
        anchor = b""
        found = -1
        for k in range(j, len(tokens)):
            if not tokens[k].clean:
                break
            found = data.find(anchor + tokens[k].data, pos)
            if found < 0:
                break
            anchor += tokens[k].data
            if len(anchor) >= _ANCHOR_BYTES:
                return j, found
        else:
            k = len(tokens)
        found = data.find(anchor, pos) if anchor else -1
        ends_data = found >= 0 and found + len(anchor) == len(data)
        if found >= 0 and (ends_data or k == len(tokens) or not tokens[k].clean):
            return j, found
    return len(tokens), len(data)


def field_confidence(
    text: str, content: Sequence[Mapping[str, Any]] | Sequence[TokenLogprob]
) -> dict[str, float]:
    """Pointer → confidence in [0, 1] for every leaf of the JSON answer ``text``.

    ``content`` is the answer's ``logprobs.content`` (or already parsed tokens). Raises
    `AlignmentError` if the tokens do not spell ``text`` and ``ValueError`` if ``text`` is not
    JSON.
    """
    tokens = [t if isinstance(t, TokenLogprob) else parse_logprobs([t])[0] for t in content]
    leaves = leaf_spans(text)
    spans = align_tokens(tokens, text.encode("utf-8", errors="surrogatepass"))
    # character offset → byte offset, so leaf spans and token spans share one axis
    offsets = [0, *accumulate(len(c.encode("utf-8", errors="surrogatepass")) for c in text)]
    scored = [(a, b, t.logprob) for (a, b), t in zip(spans, tokens, strict=True) if a < b]
    ends = [b for _, b, _ in scored]  # non-decreasing, like the starts: bisect finds the first
    result: dict[str, float] = {}
    for pointer, (start, end) in leaves.items():
        lo, hi = offsets[start], offsets[end]
        probs = []
        for a, _, logprob in scored[bisect_right(ends, lo) :]:
            if a >= hi:
                break
            if logprob is not None:
                probs.append(math.exp(logprob))
        result[pointer] = round(min(probs, default=0.0), _DECIMALS)
    return result
