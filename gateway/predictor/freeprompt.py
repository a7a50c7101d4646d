"""A free prompt: the image(s) and the prompt as one chat completion, answered in ``text``.

The images are the gateway's checked images (`gateway.images`: format, size, pixels, SSRF-safe
fetch, pre-sized for the crops sent), so vLLM sees what a chat request through the gateway
would send. Only text tokens may be generated (`NO_TEXT_TOKEN_IDS` biased away), as in an
extraction: a special token would be dropped from the answer without a trace.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .. import caps
from ..images import ValidImage
from ..pipeline import Context
from ..pipeline.prompt import NO_TEXT_TOKEN_IDS
from .inputs import Inputs

__all__ = ["DEFAULT_ANSWER_TOKENS", "answer", "build_body"]

DEFAULT_ANSWER_TOKENS = 512
"""The answer budget when ``max_tokens`` is not given (clamped to GATEWAY_MAX_TOKENS_CAP)."""

_NO_TEXT_BIAS = {str(i): -100 for i in NO_TEXT_TOKEN_IDS}


def build_body(
    inputs: Inputs, images: Sequence[ValidImage], num_crops: int, model: str, max_tokens: int
) -> bytes:
    """The chat.completions body: the images in order, then the prompt."""
    content: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": image.url}} for image in images
    ]
    content.append({"type": "text", "text": inputs.prompt})
    payload: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
        "temperature": inputs.temperature,
        "top_p": inputs.top_p,
        "logit_bias": _NO_TEXT_BIAS,
        "stream": False,
    }
    if images:
        payload["mm_processor_kwargs"] = {"num_crops": num_crops}  # what pre-sizing used
    if inputs.seed is not None:
        payload["seed"] = inputs.seed
    return json.dumps(payload, separators=(",", ":")).encode()


async def answer(
    ctx: Context, inputs: Inputs, images: Sequence[ValidImage], num_crops: int
) -> dict[str, Any]:
    """vLLM's completion for the prompt (GatewayError as the gateway maps failures)."""
    settings = ctx.settings
    budget = caps.max_tokens(inputs.max_tokens, DEFAULT_ANSWER_TOKENS, settings, "max_tokens")
    body = build_body(inputs, images, num_crops, settings.model_name, budget)
    affinity = images[0].digest if images else None
    async with ctx.calls.call():
        return await ctx.upstream.complete_json(body, ctx.record, "/predictions", affinity)
