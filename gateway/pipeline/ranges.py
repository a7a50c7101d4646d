"""A document read in page ranges, each range on its own, then merged as the synchronous path
merges: what an async extraction job (`gateway.jobs`) runs.

`document.extract_document` reads every page of a document at once and merges them. A job's
document may have hundreds of pages, so its pages are rendered and read a range at a time
(``load_pages`` with a selection such as ``"9-16"``), each page's outcome is stored as a
record (``page_record``) with the page's words when it was grounded, and once every range is
done the records come back (``page_outcome``, ``page_evidence``) and ``merge_pages`` runs the
same merge, grounding, document verdict, repair and response as `extract_document` (its own
helpers, called, not copied). ``many_result`` is `run.extract_many`'s aggregation of several
schemas' results.

    pages = await load_pages(ctx, document, crops, "9-16")
    read = await read_pages(ctx, spec, req, pages, crops)               # per page
    records = {n: page_record(o, read.evidence.get(n)) for n, o in read.outcomes.items()}
    result = await merge_pages(ctx, spec, req, page_count, outcomes, crops, reread, evidence)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas import SchemaSpec
from schemas.merge import pages_for

from ..errors import ErrorCode, GatewayError
from ..images import ValidImage
from ..trust.verdict import Scope
from .context import Context
from .document import PageSet, _merge, _Pages, _repair, _response, _verdict
from .grounding import DocumentGrounder, PageEvidence, grounding_mode
from .models import (
    DocumentResponse,
    ExtractError,
    ExtractRequest,
    ExtractResponse,
    MultiExtractResponse,
    SchemaOutcome,
)
from .run import Result, _outcome
from .single import extract_image

__all__ = [
    "PageOutcome",
    "RangeRead",
    "many_result",
    "merge_pages",
    "page_evidence",
    "page_outcome",
    "page_record",
    "read_pages",
]

PageOutcome = ExtractResponse[Any] | GatewayError
"""One page's reading: its judged result, or the error the synchronous path records."""

_NO_IMAGE = ValidImage("")
"""A page that is not re-read: `document._response` needs only its number."""


@dataclass(frozen=True)
class RangeRead:
    """A range's pages: each one's outcome, and the words of those that were grounded."""

    outcomes: dict[int, PageOutcome]
    evidence: dict[int, PageEvidence]


async def read_pages(
    ctx: Context, spec: SchemaSpec[Any], req: ExtractRequest, pages: PageSet, num_crops: int
) -> RangeRead:
    """Each page of ``pages`` read alone, grounded and judged for the page (as
    `extract_document` does for a schema that reads ``each`` page); an engine error is the
    page's outcome."""
    scope: Scope = "page" if spec.merge is not None else "all"
    slots = asyncio.Semaphore(ctx.page_concurrency or ctx.settings.document_page_concurrency)
    numbers = [number for number, _ in pages.pages]
    grounding = DocumentGrounder(
        spec, ctx.settings, pages.evidence, grounding_mode(ctx.settings, req), numbers
    )

    async def one(number: int, image: ValidImage) -> ExtractResponse[Any]:
        async with slots:
            grounder = grounding.for_page(number)
            return await extract_image(ctx, spec, req, [image], num_crops, scope, grounder)

    outcomes = await asyncio.gather(*(one(n, i) for n, i in pages.pages), return_exceptions=True)
    read: dict[int, PageOutcome] = {}
    for (number, _), outcome in zip(pages.pages, outcomes, strict=True):
        if isinstance(outcome, GatewayError | ExtractResponse):
            read[number] = outcome
        else:
            raise outcome
    await grounding.ready()
    return RangeRead(read, grounding.read)


def page_record(outcome: PageOutcome, evidence: PageEvidence | None = None) -> dict[str, Any]:
    """A page's outcome as JSON to store: ``{"ok": result}`` or ``{"status", "error"}``,
    with ``"evidence"``, the page's words, when it was grounded (the merge grounds the
    document with them)."""
    record: dict[str, Any]
    if isinstance(outcome, GatewayError):
        record = {"status": outcome.status, "error": outcome.body()["error"]}
    else:
        record = {"ok": outcome.model_dump(mode="json")}
    if evidence is not None:
        record["evidence"] = evidence.to_json()
    return record


def page_evidence(record: dict[str, Any]) -> PageEvidence | None:
    """The page's words kept by `page_record`, if any."""
    kept = record.get("evidence")
    return PageEvidence.from_json(kept) if kept else None


def page_outcome(spec: SchemaSpec[Any], record: dict[str, Any]) -> PageOutcome:
    """A stored record back as the page's outcome (the inverse of `page_record`)."""
    if "ok" in record:
        return ExtractResponse[spec.model].model_validate(record["ok"])  # type: ignore[name-defined]
    error = record["error"]
    try:
        code = ErrorCode(error.get("code"))
    except ValueError:
        code = ErrorCode.UPSTREAM_ERROR
    return GatewayError(
        int(record["status"]),
        str(error.get("message", "")),
        code=code,
        type=error.get("type"),
        param=error.get("param"),
        details=error.get("details"),
    )


async def merge_pages(
    ctx: Context,
    spec: SchemaSpec[Any],
    req: ExtractRequest,
    page_count: int,
    outcomes: dict[int, PageOutcome],
    num_crops: int,
    reread: Callable[[list[int]], Awaitable[PageSet]],
    evidence: Mapping[int, PageEvidence] | None = None,
) -> DocumentResponse[Any]:
    """The document of ``outcomes`` (every selected page's), merged, grounded with the
    pages' kept words (``evidence``) and judged exactly as `extract_document` does; with
    ``verify: "repair"`` the pages to re-read are rendered again by ``reread(numbers)`` (they
    were not kept)."""
    done = _Pages({}, {})
    for number, outcome in sorted(outcomes.items()):
        if isinstance(outcome, GatewayError):
            done.errors[number] = outcome
        else:
            done.answers[number] = outcome
    failed = list(done.errors.values())
    if failed and len(failed) == len(outcomes) and all(e.status >= 500 for e in failed):
        raise failed[0]  # the engine is down or broken: the document as a whole failed
    merged, provenance = _merge(spec, done)
    grounding = DocumentGrounder.settled(
        spec, ctx.settings, grounding_mode(ctx.settings, req), evidence or {}
    )
    verdict = grounding.judge(_verdict(spec, merged, done), merged, provenance)
    repair = None
    numbered: dict[int, ValidImage] = {n: _NO_IMAGE for n in sorted(outcomes)}
    if req.verify == "repair" and provenance is not None and not all(c.ok for c in verdict.checks):
        fields = [f for c in verdict.checks if c.status == "fail" for f in c.fields]
        wanted = sorted(n for n in pages_for(provenance, fields) if n in done.answers)
        if wanted:
            numbered.update(dict((await reread(wanted)).pages))
        pages = PageSet(page_count, sorted(numbered.items()))
        done, merged, provenance, verdict, repair = await _repair(
            ctx, spec, req, pages, num_crops, done, (merged, provenance, verdict), grounding
        )
    pages = PageSet(page_count, sorted(numbered.items()))
    return _response(ctx, spec, pages, done, merged, provenance, verdict, repair, grounding)


def many_result(
    ctx: Context,
    specs: Sequence[SchemaSpec[Any]],
    outcomes: Sequence[Result | GatewayError],
) -> MultiExtractResponse:
    """Several schemas' results (or errors) as `run.extract_many` answers them; the whole
    call fails only when every schema failed because the engine did (5xx)."""
    results: dict[str, SchemaOutcome] = {}
    for spec, outcome in zip(specs, outcomes, strict=True):
        if isinstance(outcome, GatewayError):
            err = ExtractError.model_validate(outcome.body()["error"])
            results[spec.name] = SchemaOutcome(status=outcome.status, error=err)
        else:
            results[spec.name] = _outcome(outcome).model_copy(
                update={"schema_version": spec.version}
            )
    failed = [o for o in outcomes if isinstance(o, GatewayError)]
    if failed and len(failed) == len(outcomes) and all(e.status >= 500 for e in failed):
        raise failed[0]
    return MultiExtractResponse(model=ctx.settings.model_name, results=results)
