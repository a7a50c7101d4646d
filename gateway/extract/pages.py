"""Documents and image lists on the extraction API: pages in, one result per page, merged.

``load_pages`` turns the request's input into numbered page images: a PDF or TIFF is rendered
by the app's `RenderPool` at the size the crop grid will use (``serve.phi3v.geometry``'s
``target_size``, the geometry the processor and the image path share),
each page becoming a PNG data URL with its digest; ``image_urls`` are pages 1..n as given.

``extract_pages`` then asks the model, in one of two ways, as the schema declares
(``SchemaSpec.pages``):

* ``each`` (invoices, tables, …): one request per page, at most the key's concurrency limit
  at once (``GATEWAY_DOCUMENT_PAGE_CONCURRENCY`` for keys without one). Every page gets a
  result, ``data`` or ``error``, with its usage; the answers that validated are merged by the
  schema's rule (``schemas.merge``) into ``data``; ``usage`` is the sum. A page that fails
  does not fail the document, unless every page failed because the engine did (5xx).
* ``together`` (``slide_deck``): one request with every page as an image, the whole deck
  summarised at once; at most ``GATEWAY_MAX_IMAGES_PER_REQUEST`` pages.

    pages = await load_pages(request, source, crops, req.pages)
    result = await extract_pages(request, spec, req, pages, crops, key)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from schemas import SchemaSpec
from serve.phi3v.geometry import target_size

from ..auth import KeyRecord
from ..documents import (
    DocumentLimits,
    PageSelection,
    RenderedPage,
    RenderJob,
    RenderPool,
)
from ..errors import ErrorCode, GatewayError
from ..images import ValidImage
from ..settings import Settings
from .inputs import Source
from .models import (
    DocumentResponse,
    ExtractError,
    ExtractRequest,
    ExtractResponse,
    PageResult,
    Usage,
)
from .service import extract

__all__ = ["PageSet", "document_limits", "extract_pages", "load_pages"]

_ENVELOPE = {"id", "object", "schema_name", "model", "pages"}
"""The fields of an `ExtractResponse` that describe the call, not the page."""


@dataclass(frozen=True)
class PageSet:
    """Numbered page images, and how many pages the document has in all."""

    page_count: int
    pages: list[tuple[int, ValidImage]]


def document_limits(settings: Settings) -> DocumentLimits:
    return DocumentLimits(
        max_pages=settings.document_max_pages,
        max_bytes=settings.document_max_bytes,
        max_page_pixels=settings.document_max_page_pixels,
        render_timeout_s=settings.document_render_timeout_s,
    )


def _page_image(page: RenderedPage) -> ValidImage:
    return ValidImage(page.data_url(), hashlib.sha256(page.data).digest())


async def load_pages(
    request: Request, source: Source, num_crops: int, pages: str | None
) -> PageSet | None:
    """The pages of a document or an image list; None for a single image (no pages)."""
    selection = PageSelection.parse(pages)  # a bad selection is a 400 before any work
    if isinstance(source, ValidImage):
        if selection.ranges:
            raise GatewayError(
                400,
                "pages selects pages of a PDF or TIFF document; this is a single image",
                param="pages",
                code=ErrorCode.INVALID_VALUE,
            )
        return None
    if isinstance(source, list):
        numbers = selection.resolve(len(source))
        return PageSet(len(source), [(n, source[n - 1]) for n in numbers])
    settings: Settings = request.app.state.settings
    pool: RenderPool = request.app.state.render_pool
    job = RenderJob(
        source.data, source.kind, selection, num_crops, target_size,
        document_limits(settings), source.param,
    )  # fmt: skip
    document = await pool.render(job)
    return PageSet(document.page_count, [(p.number, _page_image(p)) for p in document.pages])


async def extract_pages(
    request: Request,
    spec: SchemaSpec[Any],
    req: ExtractRequest,
    pages: PageSet,
    num_crops: int,
    key: KeyRecord,
) -> ExtractResponse[Any] | DocumentResponse[Any]:
    """Run ``spec`` over ``pages`` as the schema declares (see the module docstring)."""
    settings: Settings = request.app.state.settings
    if spec.pages == "together":
        if len(pages.pages) > settings.max_images_per_request:
            raise GatewayError(
                422,
                f"schema '{spec.name}' reads every page in one request: {len(pages.pages)} "
                f"pages, at most {settings.max_images_per_request} allowed "
                f"(GATEWAY_MAX_IMAGES_PER_REQUEST); choose some with pages",
                param="pages",
                code=ErrorCode.TOO_MANY_IMAGES,
            )
        result = await extract(request, spec, req, [image for _, image in pages.pages], num_crops)
        result.pages = [number for number, _ in pages.pages]
        return result
    slots = asyncio.Semaphore(key.max_concurrent or settings.document_page_concurrency)

    async def one(image: ValidImage) -> ExtractResponse[Any]:
        async with slots:
            return await extract(request, spec, req, image, num_crops)

    outcomes = await asyncio.gather(
        *(one(image) for _, image in pages.pages), return_exceptions=True
    )
    page_type = PageResult[spec.model]  # type: ignore[name-defined]
    results: list[PageResult[Any]] = []
    answers = []
    for (number, _), outcome in zip(pages.pages, outcomes, strict=True):
        if isinstance(outcome, GatewayError):
            error = ExtractError.model_validate(outcome.body()["error"])
            results.append(page_type(page=number, status=outcome.status, error=error))
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            answers.append(outcome)
            # Everything a single-image result carries but its envelope: data, finish_reason,
            # usage, and whatever later stages add to it (confidence, checks).
            fields = outcome.model_dump(exclude=_ENVELOPE)
            results.append(page_type(page=number, **fields))
    failed = [o for o in outcomes if isinstance(o, GatewayError)]
    if failed and len(failed) == len(outcomes) and all(e.status >= 500 for e in failed):
        raise failed[0]  # the engine is down or broken: the document as a whole failed
    merged = spec.merge(spec.model, [a.data for a in answers]) if spec.merge and answers else None
    # The document's own checks run on the merged whole: the lines of page 1 and 2 against
    # the totals printed on page 2, which no single page can verify.
    checks = spec.run_checks(merged) if merged is not None else None
    review = bool(failed) or any(a.review for a in answers) or any(not c.ok for c in checks or ())
    response_type = DocumentResponse[spec.model]  # type: ignore[name-defined]
    return response_type(
        id=f"doc-{uuid.uuid4().hex}",
        schema_name=spec.name,
        model=settings.model_name,
        page_count=pages.page_count,
        pages=[json.loads(r.model_dump_json()) for r in results],
        data=merged,
        merge_rule=spec.merge.describe() if spec.merge else None,
        checks=checks,
        review=review,
        usage=Usage.total([a.usage for a in answers]),
    )
