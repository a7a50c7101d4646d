"""A Responses API body made ready for the engine: checked, made stateless, images rewritten.

The one body-processing step of ``POST /v1/responses``, shared by the route and the batch
workers (``gateway.batch``), so a batch line passes exactly the checks of a synchronous call.

    call = await prepare_responses(payload, settings, fetch_client, slots)
    await upstream.chat(call.raw, record, "/v1/responses", call.stream, call.affinity,
                        post="/v1/responses", end=RESPONSES_END)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from ..bodies import dump_json
from ..images import DecodeSlots, rewrite_images
from ..settings import Settings
from .validation import validate_responses_request

__all__ = ["PreparedResponse", "prepare_responses"]


@dataclass(slots=True)
class PreparedResponse:
    """What goes upstream: the bytes (always re-encoded: ``store`` is forced off), whether
    to stream, and the routing key (the first image's digest)."""

    raw: bytes
    stream: bool
    affinity: bytes | None


async def prepare_responses(
    payload: dict[str, Any],
    settings: Settings,
    fetch_client: httpx.AsyncClient | None,
    slots: DecodeSlots | None,
) -> PreparedResponse:
    """Check ``payload`` in place and rewrite its images to validated data URLs."""
    images = validate_responses_request(payload, settings)
    if images:
        await rewrite_images(payload, images, settings, fetch_client, slots)
    return PreparedResponse(
        dump_json(payload),
        payload.get("stream") is True,
        images[0].digest if images else None,  # the first image picks the replica
    )
