"""A chat.completions body made ready for the engine: checked, images rewritten, tools forced.

The one body-processing step of ``POST /v1/chat/completions``, shared by the route and the
batch workers (``gateway.batch``), so a batch line passes exactly the checks, caps and image
path of a synchronous request.

    call = await prepare_chat(raw, parse_json_object(raw), settings, fetch_client, slots)
    response = await upstream.chat(call.raw, record, route, call.stream, call.affinity)
    response = call.forced.respond(response) if call.forced else response
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from ..bodies import dump_json
from ..images import DecodeSlots, rewrite_images
from ..settings import Settings
from .tools import ForcedTool, force_tool_call
from .validation import validate_chat_request

__all__ = ["KEEP_RAW_BYTES", "PreparedChat", "prepare_chat"]

KEEP_RAW_BYTES = 1 << 20
"""Bodies up to this size are kept as received while their images are checked."""


@dataclass(slots=True)
class PreparedChat:
    """What goes upstream: the bytes, whether to stream, the routing key, the forced tool."""

    raw: bytes
    stream: bool
    affinity: bytes | None
    """The first image's digest (picks the replica); None for text only."""
    forced: ForcedTool | None


async def prepare_chat(
    raw: bytes,
    payload: dict[str, Any],
    settings: Settings,
    fetch_client: httpx.AsyncClient | None,
    slots: DecodeSlots | None,
) -> PreparedChat:
    """Check ``payload`` (parsed from ``raw``), rewrite its images to validated data URLs and
    a forced tool call to guided decoding. ``raw`` goes upstream untouched when nothing
    changed and it is small; otherwise the payload is re-encoded."""
    images = validate_chat_request(payload, settings)
    rewrite = "tools" in payload
    forced = force_tool_call(payload, settings)  # tools → guided decoding of one function
    if images:
        # A large body is rebuilt rather than held twice (bytes and parsed) while its images
        # wait for a decode slot; a small one goes upstream as it came if nothing changes.
        kept, raw = (raw if len(raw) <= KEEP_RAW_BYTES else None), b""
        changed = await rewrite_images(payload, images, settings, fetch_client, slots)
        if changed or kept is None:
            rewrite = True
        else:
            raw = kept
    if rewrite:
        raw = dump_json(payload)
    stream = payload.get("stream") is True
    affinity = images[0].digest if images else None  # the first image picks the replica
    return PreparedChat(raw, stream, affinity, forced)
