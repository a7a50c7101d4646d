"""The input stage: an image, several images or a document, checked, from plain values.

An image passes the same checks as a chat image and is pre-sized for the crops the request
will use; it comes back as a data URL with the digest that routes it to a replica. A PDF or
TIFF (told by its bytes) comes back unread as a `DocumentInput`, for `pages.load_pages`.

    source = await load_source(ctx, image_url=req.image_url, image_urls=req.image_urls,
                               upload=None, num_crops=16)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..documents import DocumentKind, DocumentNotImage
from ..errors import ErrorCode, GatewayError
from ..images import ValidImage, prepare_upload, validate_image
from ..settings import Settings
from .context import Context

__all__ = ["DocumentInput", "Source", "load_single", "load_source", "read_cap"]


@dataclass(frozen=True)
class DocumentInput:
    """A PDF or TIFF as received; rendered into pages later."""

    data: bytes
    kind: DocumentKind
    param: str
    """The field it came in: ``image`` (upload) or ``image_url``."""


Source = ValidImage | list[ValidImage] | DocumentInput
"""One image, several images (``image_urls``), or a document."""


def read_cap(settings: Settings) -> int:
    """Bytes read before the format is known: an image's cap or a document's, the larger."""
    return max(settings.max_image_bytes, settings.document_max_bytes)


async def load_single(
    ctx: Context, url: str | None, upload: bytes | None, num_crops: int
) -> ValidImage | DocumentInput:
    """The one image or document of a request: ``upload`` (bytes, named ``image``) if given,
    else ``url`` (a data URL, or http(s) fetched SSRF-safe)."""
    settings = ctx.settings
    try:
        if upload is not None:
            return await prepare_upload(
                upload, settings, param="image", num_crops=num_crops, slots=ctx.decode_slots
            )
        if url is None:
            raise GatewayError(
                400, "image_url is required", param="image_url", code=ErrorCode.INVALID_VALUE
            )
        return await validate_image(
            url,
            settings,
            ctx.fetch_client,
            param="image_url",
            num_crops=num_crops,
            slots=ctx.decode_slots,
            max_bytes=read_cap(settings),
        )
    except DocumentNotImage as document:
        return DocumentInput(document.data, document.kind, document.param or "image")


async def load_source(
    ctx: Context,
    *,
    image_url: str | None,
    image_urls: list[str] | None,
    upload: bytes | None,
    num_crops: int,
) -> Source:
    """The request's input: ``image_urls`` as pages, else the single image or document."""
    if image_urls is None:
        return await load_single(ctx, image_url, upload, num_crops)
    limit = ctx.settings.max_images_per_request
    if len(image_urls) > limit:
        raise GatewayError(
            422,
            f"too many images: {len(image_urls)} in image_urls, at most {limit} allowed "
            f"(GATEWAY_MAX_IMAGES_PER_REQUEST)",
            param=f"image_urls[{limit}]",
            code=ErrorCode.TOO_MANY_IMAGES,
        )
    images = await asyncio.gather(
        *(
            validate_image(
                url,
                ctx.settings,
                ctx.fetch_client,
                param=f"image_urls[{i}]",
                num_crops=num_crops,
                slots=ctx.decode_slots,
            )
            for i, url in enumerate(image_urls)
        )
    )
    return list(images)
