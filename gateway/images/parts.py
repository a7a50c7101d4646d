"""The images inside an OpenAI body, found by a route's checks and rewritten in place.

Chat (``image_url`` parts) and the Responses API (``input_image`` parts) hold an image URL in
different places; an ``ImagePart`` points at the dict and key that hold it, so both go through
the one image path: the count limit, then ``validate_image`` (formats, bytes, pixels, the
SSRF-safe fetch of http(s) URLs) and the rewrite to a validated data URL.

    parts = [ImagePart("messages[0].content[1].image_url", holder, image_detail(holder, p))]
    check_image_count(parts, settings)                                # 422 over the limit
    changed = await rewrite_images(payload, parts, settings, fetch_client, slots)

Images are pre-sized for the request's num_crops (``crops``: ``mm_processor_kwargs``, then
each image's ``detail``, then the engine's default), in ``slots``. When the gateway chose the
crops (from ``detail``) or pre-sized an image for them, it writes them into the payload's
``mm_processor_kwargs``, so that vLLM uses the num_crops the pre-sizing used.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import ErrorCode, GatewayError
from ..settings import Settings
from .crops import Detail, request_num_crops
from .decodes import DecodeSlots
from .validate import ValidImage, validate_image

__all__ = ["ImagePart", "check_image_count", "rewrite_images"]


@dataclass(slots=True)
class ImagePart:
    """An image in the body: the dict that holds its URL under ``key`` (chat's ``image_url``
    object, or a Responses ``input_image`` part) and its param path; after
    ``rewrite_images``, the first part also has the sha256 of its bytes (the routing key)."""

    param: str
    holder: dict[str, Any]
    detail: Detail | None = None
    digest: bytes | None = None
    key: str = "url"


def check_image_count(parts: list[ImagePart], settings: Settings) -> None:
    """422 when a request carries more images than allowed, naming the first one over."""
    if len(parts) > settings.max_images_per_request:
        first_over = parts[settings.max_images_per_request]
        raise GatewayError(
            422,
            f"too many images: {len(parts)} in this request, at most "
            f"{settings.max_images_per_request} allowed ({first_over.param} is over the limit)",
            param=first_over.param,
            code=ErrorCode.TOO_MANY_IMAGES,
        )


async def rewrite_images(
    payload: dict[str, Any],
    parts: list[ImagePart],
    settings: Settings,
    fetch_client: httpx.AsyncClient | None,
    slots: DecodeSlots | None = None,
) -> bool:
    """Replace each image URL by its validated (and pre-sized) data URL; True if ``payload``
    changed.

    The parts are checked (and remote ones fetched) concurrently, so a request with several
    remote images waits for the slowest fetch, not their sum; ``slots`` bounds how many decode
    at once. If several fail, the error names the first failing part in message order,
    whatever finished first. Every part's ``digest`` is set on the way: requests are routed by
    their first image.
    """
    mm = payload.get("mm_processor_kwargs")
    explicit = mm.get("num_crops") if isinstance(mm, dict) else None
    crops = request_num_crops(explicit, (part.detail for part in parts), settings)
    outcomes = await asyncio.gather(
        *(
            validate_image(
                part.holder[part.key],
                settings,
                fetch_client,
                param=part.param,
                num_crops=crops.num_crops,
                slots=slots,
            )
            for part in parts
        ),
        return_exceptions=True,
    )
    valid: list[ValidImage] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        valid.append(outcome)
    changed = False
    for part, checked in zip(parts, valid, strict=True):
        part.digest = checked.digest
        if checked.url is not part.holder[part.key]:
            part.holder[part.key] = checked.url
            changed = True
    presized = any(checked.presized for checked in valid)
    if (crops.explicit or presized) and explicit is None:
        # vLLM must use the num_crops the images were sized for (and that detail asked for).
        payload["mm_processor_kwargs"] = {**(mm or {}), "num_crops": crops.num_crops}
        changed = True
    return changed
