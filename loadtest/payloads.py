"""Request bodies for the gateway, built as bytes around an already-encoded image.

A data URL of a page scan is hundreds of kilobytes; ``json.dumps`` over it on every request
would make the load generator, not the server, the thing being measured. The body is dumped
once around a placeholder, and each request only splices the image's bytes in. Base64 and
the ``data:`` prefix need no JSON escaping, so the splice is exact.

Images go *before* the question in the message: the shared part comes first, so several
prompts on one image reuse its prefix-cache blocks (the ``repeat`` kind measures that).

    body = chat_body(cfg, image, "Describe the image.", stream=True)
    json.loads(body)["messages"][0]["content"][0]["image_url"]["url"] == image.data_url
"""

from __future__ import annotations

import json
from typing import Any

from loadtest.config import RunConfig
from loadtest.corpus import CorpusImage

__all__ = ["QUESTIONS", "chat_body", "extract_body", "splice_image"]

QUESTIONS = (
    "Describe this image in one sentence.",
    "What text can you read in this image?",
    "List the main objects you see.",
    "What are the dominant colours?",
    "Is this a document, a photo or an advertisement? Answer briefly.",
    "How many people are visible?",
    "Summarise the layout of this image.",
    "What would be a good title for this image?",
)
_PLACEHOLDER = "\u0000IMAGE\u0000"
_QUOTED = json.dumps(_PLACEHOLDER)


def splice_image(body: dict[str, Any], image: CorpusImage) -> bytes:
    """``body`` as compact JSON with the placeholder string replaced by the image's URL."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    head, sep, tail = text.partition(_QUOTED)
    if not sep:
        raise ValueError("body has no image placeholder")
    return b"".join((head.encode(), b'"', image.data_url.encode("ascii"), b'"', tail.encode()))


def chat_body(cfg: RunConfig, image: CorpusImage, question: str, *, stream: bool) -> bytes:
    """An OpenAI chat request with one image and one question."""
    body: dict[str, Any] = {
        "model": cfg.model,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": _PLACEHOLDER}},
                    {"type": "text", "text": question},
                ],
            }
        ],
        "max_tokens": cfg.max_tokens,
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    if cfg.num_crops is not None:
        body["mm_processor_kwargs"] = {"num_crops": cfg.num_crops}
    if cfg.ignore_eos:
        body["ignore_eos"] = True  # vLLM extension: fixed output length
    return splice_image(body, image)


def extract_body(cfg: RunConfig, image: CorpusImage) -> bytes:
    """A ``POST /v1/extract/{schema}`` body; the schema is in the path."""
    body: dict[str, Any] = {"image_url": _PLACEHOLDER}
    if cfg.num_crops is not None:
        body["num_crops"] = cfg.num_crops
    if cfg.extract_max_tokens is not None:
        body["max_tokens"] = cfg.extract_max_tokens
    if cfg.extract_temperature:
        body["temperature"] = cfg.extract_temperature
    return splice_image(body, image)
