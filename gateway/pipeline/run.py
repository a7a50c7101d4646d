"""The extraction pipeline's entry point: plain inputs in, the typed result out.

Every caller runs extraction through here: the HTTP routes (`gateway.extract`), batch
workers and the Cog predictor. Nothing here reads a request; a `Context` carries what the
caller has (settings, the upstream client, the key's call budget, a record to fill).

    ctx = Context(settings, upstream, record, render_pool, ...)
    source = await load_source(ctx, image_url=url, image_urls=None, upload=None, num_crops=16)
    result = await extract(ctx, spec, req, source, num_crops=16)

``extract_many`` runs several schemas on one input (rendered once, one crop count for all,
so that every schema's prompt shares the image's KV blocks).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from schemas import SchemaSpec

from ..errors import GatewayError
from ..images import ValidImage
from .context import Context
from .document import PageSet, extract_document, load_pages
from .grounding import DocumentGrounder, Evidence, grounding_mode
from .models import (
    DocumentResponse,
    ExtractError,
    ExtractRequest,
    ExtractResponse,
    MultiExtractResponse,
    SchemaOutcome,
)
from .single import extract_image
from .source import Source

__all__ = ["extract", "extract_many"]

Result = ExtractResponse[Any] | DocumentResponse[Any]


async def extract(
    ctx: Context,
    spec: SchemaSpec[Any],
    req: ExtractRequest,
    source: Source,
    num_crops: int,
) -> Result:
    """Run ``spec`` on ``source`` (an image, several images, a document): ask, validate,
    judge, merge. ``num_crops`` has been through ``caps.num_crops``; ``source`` was loaded
    for it (`load_source`)."""
    pages = await load_pages(ctx, source, num_crops, req.pages)
    return await _run(ctx, spec, req, source, pages, num_crops, Evidence(ctx, source))


async def _run(
    ctx: Context,
    spec: SchemaSpec[Any],
    req: ExtractRequest,
    source: Source,
    pages: PageSet | None,
    num_crops: int,
    evidence: Evidence,
) -> Result:
    if pages is None:
        assert isinstance(source, ValidImage)
        mode = grounding_mode(ctx.settings, req)
        grounder = DocumentGrounder(spec, ctx.settings, evidence, mode, [1]).for_page(1)
        return await extract_image(ctx, spec, req, [source], num_crops, grounder=grounder)
    return await extract_document(ctx, spec, req, pages, num_crops)


async def extract_many(
    ctx: Context,
    specs: Sequence[SchemaSpec[Any]],
    req: ExtractRequest,
    source: Source,
    num_crops: int,
) -> MultiExtractResponse:
    """Every schema of ``specs`` on one ``source``, concurrently; each schema's outcome is
    its result or its error. The whole call fails only when every schema failed because
    the engine did (5xx)."""
    pages = await load_pages(ctx, source, num_crops, req.pages)  # rendered once for all
    evidence = Evidence(ctx, source)  # a single image's words, read once for all
    outcomes = await asyncio.gather(
        *(_run(ctx, spec, req, source, pages, num_crops, evidence) for spec in specs),
        return_exceptions=True,
    )
    results: dict[str, SchemaOutcome] = {}
    for spec, outcome in zip(specs, outcomes, strict=True):
        if isinstance(outcome, GatewayError):
            err = ExtractError.model_validate(outcome.body()["error"])
            results[spec.name] = SchemaOutcome(status=outcome.status, error=err)
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            results[spec.name] = _outcome(outcome).model_copy(
                update={"schema_version": spec.version}
            )
    failed = [o for o in outcomes if isinstance(o, GatewayError)]
    if failed and len(failed) == len(outcomes) and all(e.status >= 500 for e in failed):
        raise failed[0]  # the engine is down or broken: the request as a whole failed
    return MultiExtractResponse(model=ctx.settings.model_name, results=results)


def _outcome(result: Result) -> SchemaOutcome:
    """One schema's result as an entry of a multi-schema answer."""
    if isinstance(result, DocumentResponse):
        document = json.loads(result.model_dump_json(by_alias=True))
        return SchemaOutcome(
            status=200,
            data=document["data"],
            checks=result.checks,
            review=result.review,
            review_reasons=result.review_reasons,
            repair=result.repair,
            usage=result.usage,
            pages=document["pages"],
            grounding=document["grounding"],
            grounding_engine=result.grounding_engine,
            grounding_note=result.grounding_note,
        )
    return SchemaOutcome(
        status=200,
        data=json.loads(result.data.model_dump_json()),
        confidence=result.confidence,
        checks=result.checks,
        review=result.review,
        review_reasons=result.review_reasons,
        repair=result.repair,
        finish_reason=result.finish_reason,
        usage=result.usage,
        grounding=json.loads(result.model_dump_json())["grounding"],
        grounding_engine=result.grounding_engine,
        grounding_note=result.grounding_note,
    )
