"""Documents and image lists: pages in, one result per page, merged and judged as a whole.

``load_pages`` turns the input into numbered page images: a PDF or TIFF is rendered by the
`RenderPool` at the size the crop grid will use (``serve.phi3v.geometry.target_size``, the
geometry the processor and the image path share), each page becoming a PNG data URL with
its digest; ``image_urls`` are pages 1..n as given.

``extract_document`` then asks the model as the schema declares (``SchemaSpec.pages``):

* ``each`` (invoices, tables, …): one request per page (at most
  ``GATEWAY_DOCUMENT_PAGE_CONCURRENCY`` at once, and within the key's call budget across the
  whole request). Each page is judged only by the checks a page can verify alone; the
  answers that validated merge by the schema's rule (``schemas.merge``) into ``data``, with
  the page each value came from (``provenance``); the merged document is judged by the
  document checks and the fields the schema needs. With ``verify: "repair"`` a failed
  document check re-reads the pages that hold its fields, once each, and the better merged
  document is kept. A page that fails does not fail the document, unless every page failed
  because the engine did (5xx).
* ``together`` (``slide_deck``): one request with every page as an image, the whole deck
  summarised at once; at most ``GATEWAY_MAX_IMAGES_PER_REQUEST`` pages.

    pages = await load_pages(ctx, source, crops, req.pages)
    result = await extract_document(ctx, spec, req, pages, crops)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from schemas import SchemaSpec
from schemas.checks import CheckResult
from schemas.merge import pages_for
from serve.phi3v.geometry import target_size

from ..documents import DocumentLimits, PageSelection, RenderedPage, RenderJob
from ..errors import ErrorCode, GatewayError
from ..images import ValidImage
from ..settings import Settings
from ..trust.repair import Attempt, Repair, attempt_of, judge, sum_usage
from ..trust.verdict import Scope, Verdict, assess_document, better, repair_note
from .context import Context
from .grounding import DocumentGrounder, Evidence, grounding_mode
from .models import (
    DocumentResponse,
    ExtractError,
    ExtractRequest,
    ExtractResponse,
    PageResult,
    Usage,
)
from .reading import read_once
from .single import extract_image, result_of, trust_options
from .source import Source

__all__ = ["PageSet", "document_limits", "extract_document", "load_pages"]

_ENVELOPE = {"id", "object", "schema_name", "schema_version", "model", "pages"}
"""The fields of an `ExtractResponse` that describe the call, not the page."""


@dataclass(frozen=True)
class PageSet:
    """Numbered page images, and how many pages the document has in all."""

    page_count: int
    pages: list[tuple[int, ValidImage]]
    evidence: Evidence | None = None
    """The words of the pages, for grounding (read on demand, once for every schema)."""


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
    ctx: Context, source: Source, num_crops: int, pages: str | None
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
        return PageSet(len(source), [(n, source[n - 1]) for n in numbers], Evidence(ctx, source))
    job = RenderJob(
        source.data, source.kind, selection, num_crops, target_size,
        document_limits(ctx.settings), source.param,
    )  # fmt: skip
    document = await ctx.render_pool.render(job)
    return PageSet(
        document.page_count,
        [(p.number, _page_image(p)) for p in document.pages],
        Evidence(ctx, source),
    )


@dataclass
class _Pages:
    """The answers of a document's pages so far, by page number."""

    answers: dict[int, ExtractResponse[Any]]
    errors: dict[int, GatewayError]


def _merge(spec: SchemaSpec[Any], pages: _Pages) -> tuple[BaseModel | None, dict[str, int] | None]:
    """The merged document and the page each of its values came from."""
    if spec.merge is None or not pages.answers:
        return None, None
    numbered = [(n, a.data) for n, a in sorted(pages.answers.items())]
    return spec.merge.merge_with_provenance(spec.model, numbered)


def _verdict(spec: SchemaSpec[Any], merged: BaseModel | None, pages: _Pages) -> Verdict:
    numbers = sorted([*pages.answers, *pages.errors])
    page_verdicts = [
        (n, _page_verdict(pages.answers[n]) if n in pages.answers else None) for n in numbers
    ]
    return assess_document(spec, merged, page_verdicts)


def _page_verdict(answer: ExtractResponse[Any]) -> Verdict:
    return Verdict(
        confidence=answer.confidence,
        checks=answer.checks,
        review=answer.review,
        review_reasons=answer.review_reasons,
    )


async def extract_document(
    ctx: Context,
    spec: SchemaSpec[Any],
    req: ExtractRequest,
    pages: PageSet,
    num_crops: int,
) -> ExtractResponse[Any] | DocumentResponse[Any]:
    """Run ``spec`` over ``pages`` as the schema declares (see the module docstring)."""
    settings = ctx.settings
    numbers = [number for number, _ in pages.pages]
    grounding = DocumentGrounder(
        spec, settings, pages.evidence, grounding_mode(settings, req), numbers
    )
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
        images = [image for _, image in pages.pages]
        grounder = grounding.for_pages(numbers)
        result = await extract_image(ctx, spec, req, images, num_crops, grounder=grounder)
        result.pages = numbers
        return result
    # A kind without a merge rule has no document to judge: each page is judged whole.
    scope: Scope = "page" if spec.merge is not None else "all"
    slots = asyncio.Semaphore(ctx.page_concurrency or settings.document_page_concurrency)

    async def one(number: int, image: ValidImage) -> ExtractResponse[Any]:
        async with slots:
            grounder = grounding.for_page(number)
            return await extract_image(ctx, spec, req, [image], num_crops, scope, grounder)

    outcomes = await asyncio.gather(
        *(one(number, image) for number, image in pages.pages), return_exceptions=True
    )
    done = _Pages({}, {})
    for (number, _), outcome in zip(pages.pages, outcomes, strict=True):
        if isinstance(outcome, GatewayError):
            done.errors[number] = outcome
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            done.answers[number] = outcome
    failed = list(done.errors.values())
    if failed and len(failed) == len(outcomes) and all(e.status >= 500 for e in failed):
        raise failed[0]  # the engine is down or broken: the document as a whole failed
    merged, provenance = _merge(spec, done)
    await grounding.ready()
    verdict = grounding.judge(_verdict(spec, merged, done), merged, provenance)
    repair = None
    if req.verify == "repair" and provenance is not None and not all(c.ok for c in verdict.checks):
        done, merged, provenance, verdict, repair = await _repair(
            ctx, spec, req, pages, num_crops, done, (merged, provenance, verdict), grounding
        )
    return _response(ctx, spec, pages, done, merged, provenance, verdict, repair, grounding)


async def _repair(
    ctx: Context,
    spec: SchemaSpec[Any],
    req: ExtractRequest,
    pages: PageSet,
    num_crops: int,
    done: _Pages,
    first: tuple[BaseModel | None, dict[str, int], Verdict],
    grounding: DocumentGrounder | None = None,
) -> tuple[_Pages, BaseModel | None, dict[str, int] | None, Verdict, Repair]:
    """Re-read, once each, the pages holding the fields of the failed document checks (a
    page its own repair already re-read is not read a third time); keep the better
    document."""
    merged, provenance, verdict = first
    failed = [c for c in verdict.checks if c.status == "fail"]
    wanted = pages_for(provenance, [f for c in failed for f in c.fields])
    images = dict(pages.pages)
    numbers = sorted(n for n in wanted if n in done.answers and done.answers[n].repair is None)
    options = trust_options(ctx, spec, req, "page")
    note = repair_note(failed)

    async def again(number: int) -> ExtractResponse[Any]:
        reading = await read_once(ctx, spec, req, [images[number]], options.repair_crops, note)
        grounder = grounding.for_page(number) if grounding is not None else None
        if grounder is not None:
            await grounder.ready()
        page_options = trust_options(ctx, spec, req, "page", grounder)
        page_verdict = judge(spec, reading, page_options)
        earlier = done.answers[number]
        tried = Repair(
            attempts=[_first_attempt(earlier, num_crops), attempt_of(reading, page_verdict)],
            chosen=1,
        )
        usage = sum_usage(earlier.usage.model_dump(), reading.usage)
        return result_of(spec, reading, page_verdict, tried, usage, grounder)

    outcomes = await asyncio.gather(*(again(n) for n in numbers), return_exceptions=True)
    second = _Pages(dict(done.answers), dict(done.errors))
    extra: list[dict[str, int]] = []
    for number, outcome in zip(numbers, outcomes, strict=True):
        if isinstance(outcome, ExtractResponse):
            second.answers[number] = outcome
            extra.append(outcome.usage.model_dump())
        elif not isinstance(outcome, GatewayError):
            raise outcome
    merged2, provenance2 = _merge(spec, second)
    verdict2 = _verdict(spec, merged2, second)
    if grounding is not None:
        verdict2 = grounding.judge(verdict2, merged2, provenance2)
    before = Attempt(num_crops=num_crops, checks=verdict.checks, review=verdict.review)
    after = Attempt(
        num_crops=options.repair_crops,
        checks=verdict2.checks,
        review=verdict2.review,
        pages=numbers,
        usage=sum_usage(*extra) if extra else None,
    )
    chosen = better(verdict, verdict2) if numbers else 0
    repair = Repair(attempts=[before, after], chosen=chosen)
    if chosen:
        return second, merged2, provenance2, verdict2, repair
    return done, merged, provenance, verdict, repair


def _first_attempt(answer: ExtractResponse[Any], num_crops: int) -> Attempt:
    return Attempt(
        num_crops=num_crops,
        checks=answer.checks,
        review=answer.review,
        usage=answer.usage.model_dump(),
    )


def _response(
    ctx: Context,
    spec: SchemaSpec[Any],
    pages: PageSet,
    done: _Pages,
    merged: BaseModel | None,
    provenance: dict[str, int] | None,
    verdict: Verdict,
    repair: Repair | None,
    grounding: DocumentGrounder | None = None,
) -> DocumentResponse[Any]:
    page_type = PageResult[spec.model]  # type: ignore[name-defined]
    results: list[PageResult[Any]] = []
    for number, _ in pages.pages:
        if number in done.errors:
            error = done.errors[number]
            body = ExtractError.model_validate(error.body()["error"])
            results.append(page_type(page=number, status=error.status, error=body))
        else:
            # Everything a single-image result carries but its envelope: data, confidence,
            # checks, review, finish_reason, usage.
            fields = done.answers[number].model_dump(exclude=_ENVELOPE)
            results.append(page_type(page=number, **fields))
    checks: list[CheckResult] | None = verdict.checks if merged is not None else None
    response_type = DocumentResponse[spec.model]  # type: ignore[name-defined]
    return response_type(
        id=f"doc-{uuid.uuid4().hex}",
        schema_name=spec.name,
        schema_version=spec.version,
        model=ctx.settings.model_name,
        page_count=pages.page_count,
        pages=[json.loads(r.model_dump_json()) for r in results],
        data=merged,
        merge_rule=spec.merge.describe() if spec.merge else None,
        checks=checks,
        review=verdict.review,
        review_reasons=verdict.review_reasons,
        provenance=provenance,
        repair=repair,
        usage=Usage.total([a.usage for a in done.answers.values()]),
        grounding=verdict.grounding,
        grounding_engine=grounding.engine if grounding is not None else None,
        grounding_note=grounding.note if grounding is not None else None,
    )
