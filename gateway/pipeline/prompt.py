"""How an extraction is asked: the prompt layout and the request sent to vLLM.

The layout serves vLLM's prefix cache. Everything shared comes first: one fixed system
prompt, then the image; only then the schema's instructions and the user's hint. Several
extractions of one image (``POST /v1/extract`` with several schemas, or a client looping over
schemas) therefore reuse the image's KV blocks: measured at 95%+ of prompt tokens from cache
for the second and later schemas (``make bench``).

Whitespace: every engine profile starts vLLM with ``disable_any_whitespace``; vLLM 0.32 reads
that flag only from the server config (a per-request ``structured_outputs`` next to
``response_format`` is refused with HTTP 400), so requests carry ``response_format`` alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from schemas import SchemaSpec
from schemas.spec import COMMON_RULES

__all__ = [
    "NO_TEXT_TOKEN_IDS",
    "STOP_TOKEN_IDS",
    "SYSTEM_PROMPT",
    "build_messages",
    "build_request",
]

STOP_TOKEN_IDS = (32000, 32001, 32007)
"""Phi-3's ``<|endoftext|>``, ``<|assistant|>`` and ``<|end|>``: the generation config stops
on them, so an answer may end with one."""
NO_TEXT_TOKEN_IDS = tuple(i for i in range(32000, 32064) if i not in STOP_TOKEN_IDS)
"""Every other id past Phi-3's 32,000 ordinary tokens: the special tokens (``<|system|>``,
``<|placeholder1…|>``, the image token 32044) and the padding rows up to the vocabulary's
32,064. xgrammar sees a special token as the text it names and lets it into a JSON string,
but vLLM leaves special tokens out of the content, so the answer would hold less than the
grammar checked and the tokens would not spell it (a random-weight model did this, seed 11
on ``passport``). An extraction answer is text only, so they get a logit bias of -100."""

SYSTEM_PROMPT = "You read images for business software. " + COMMON_RULES
"""Fixed for every schema, so that it and the image form a cacheable prefix; the rules all
kinds share live here once, not in each kind's instructions after the image."""


_NO_TEXT_BIAS = {str(i): -100 for i in NO_TEXT_TOKEN_IDS}


def build_messages(
    spec: SchemaSpec[Any],
    image_data_url: str | Sequence[str],
    hint: str | None,
    note: str | None = None,
) -> list[Any]:
    """System prompt, then the image(s) in order (a deck's slides), then the instructions,
    the user's hint and a repair note (what failed in an earlier reading,
    `gateway.trust.verdict.repair_note`), in that order."""
    urls = [image_data_url] if isinstance(image_data_url, str) else list(image_data_url)
    text = spec.instructions
    if hint and hint.strip():
        text += "\n\nAdditional guidance from the user: " + hint.strip()
    if note:
        text += "\n\n" + note
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {
            "role": "user",
            "content": [
                *({"type": "image_url", "image_url": {"url": url}} for url in urls),
                {"type": "text", "text": text},
            ],
        },
    ]


def build_request(
    spec: SchemaSpec[Any],
    *,
    model: str,
    image_data_url: str | Sequence[str],
    hint: str | None,
    num_crops: int,
    max_tokens: int,
    temperature: float,
    seed: int | None = None,
    note: str | None = None,
    logprobs: bool = False,
    top_p: float | None = None,
) -> bytes:
    """The chat.completions body for vLLM, serialised once. ``logprobs`` asks for the chosen
    tokens' log-probabilities only (no ``top_logprobs``): all per-field confidence needs.
    Tokens that spell no text are kept out (`NO_TEXT_TOKEN_IDS`)."""
    payload: dict[str, Any] = {
        "model": model,
        "messages": build_messages(spec, image_data_url, hint, note),
        "response_format": spec.response_format(),
        "max_tokens": max_tokens,
        "temperature": temperature,
        "logit_bias": _NO_TEXT_BIAS,
        "mm_processor_kwargs": {"num_crops": num_crops},
        "stream": False,
    }
    if seed is not None:
        payload["seed"] = seed
    if top_p is not None:
        payload["top_p"] = top_p
    if logprobs:
        payload["logprobs"] = True
    return json.dumps(payload, separators=(",", ":")).encode()
