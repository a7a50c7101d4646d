"""Running a job's work: planning a document into page ranges, one unit, the final merge.

Everything goes through the extraction pipeline (`gateway.pipeline`) as background work,
like a batch line (`gateway.batch.lines`): calls through ``BackgroundUpstream`` (vLLM
``priority`` = ``GATEWAY_BACKGROUND_PRIORITY``, the per-replica cap shared with batches),
the key's call slots as ``CallSlots.background`` (at most ``max_concurrent − 1``).

* **plan** (a ``pages`` job): page 1 is rendered to learn the page count, which also refuses
  what the synchronous call refuses (corrupt, encrypted, truncated, too large: the same
  error); the ``pages`` selection is resolved, at most ``GATEWAY_JOB_MAX_PAGES`` pages, and
  cut into ranges of ``GATEWAY_JOB_RANGE_PAGES``;
* **a unit**: its range rendered (``load_pages`` with the range as selection, under the
  render deadline of one synchronous document: no deadline for the whole document) and each
  page read by every schema (`pipeline.ranges.read_pages`); a page the engine could not
  answer makes the unit ``EngineTrouble`` (retried later) until the retry budget is spent;
  a ``whole`` job's one unit is the synchronous pipeline call itself;
* **finish**: the stored page records merged (`pipeline.ranges.merge_pages`), the result the
  synchronous call would have answered, or its error.

Nothing here logs content.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from schemas import SchemaSpec

from .. import pipeline
from ..auth import CallSlots
from ..batch.blobs import FileBlobs
from ..batch.lines import ENGINE_TROUBLE, EngineTrouble
from ..documents import DocumentError, PageSelection
from ..errors import ErrorCode, GatewayError
from ..images import ValidImage
from ..pipeline import Context, DocumentInput, Source
from ..pipeline.document import PageSet, load_pages
from ..pipeline.models import ExtractRequest, MultiExtractRequest
from ..pipeline.ranges import (
    many_result,
    merge_pages,
    page_evidence,
    page_outcome,
    page_record,
    read_pages,
)
from ..record import RequestRecord
from ..settings import Settings
from ..upstream import Upstream
from .caps import error_of, page_settings, whole_settings
from .store import JobRow, JobStatus, JobUnit, UnitPlan

if TYPE_CHECKING:
    import httpx

    from ..auth.admission import Limiter
    from ..documents import RenderPool
    from ..images import DecodeSlots
    from ..pipeline.lookup import SchemaSource

__all__ = ["JobRunner", "page_ranges"]

Outcome = tuple[JobStatus, dict[str, Any] | None, dict[str, Any] | None]


def page_ranges(numbers: list[int], size: int) -> list[UnitPlan]:
    """``numbers`` cut into units of at most ``size`` pages, each as a selection string."""
    plans = []
    for start in range(0, len(numbers), size):
        chunk = numbers[start : start + size]
        runs: list[list[int]] = []
        for n in chunk:
            if runs and runs[-1][1] == n - 1:
                runs[-1][1] = n
            else:
                runs.append([n, n])
        text = ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
        plans.append(UnitPlan(text, len(chunk)))
    return plans


@dataclass
class JobRunner:
    """What a job's work needs from the app (built by `service.open_job_service`)."""

    settings: Settings
    upstream: Upstream
    """The ``BackgroundUpstream`` the Batch API's lines use too (one shared cap)."""
    limiter: Limiter
    render_pool: RenderPool
    decode_slots: DecodeSlots | None
    fetch_client: httpx.AsyncClient | None
    schemas: SchemaSource
    blobs: FileBlobs
    renders: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))
    """Job ranges render one at a time per process, so the render pool keeps a worker for
    interactive documents, and at most one job document's bytes are in memory at once."""

    def context(self, job: JobRow, max_concurrent: int | None = None) -> Context:
        limit = None if max_concurrent is None else max(1, max_concurrent - 1)
        record = RequestRecord("req_" + secrets.token_hex(12), time.perf_counter())
        record.key_name = job.key_name
        settings = page_settings if job.mode == "pages" else whole_settings
        return Context(
            settings=settings(self.settings),
            upstream=self.upstream,
            record=record,
            render_pool=self.render_pool,
            decode_slots=self.decode_slots,
            fetch_client=self.fetch_client,
            calls=CallSlots.background(self.limiter, job.key_name, limit),
            schemas=self.schemas,
        )

    async def specs(self, job: JobRow) -> list[SchemaSpec[Any]]:
        return [await self.schemas.get(name, version, "schemas") for name, version in job.specs]

    @staticmethod
    def request(job: JobRow) -> ExtractRequest:
        model = MultiExtractRequest if job.multi else ExtractRequest
        return model.model_validate_json(job.request)

    async def _bytes(self, job: JobRow) -> bytes:
        try:
            return b"".join([chunk async for chunk in self._chunks(job)])
        except FileNotFoundError:
            raise GatewayError(
                404,
                "the job's input file is gone (deleted or expired)",
                param="file_id",
                code=ErrorCode.NOT_FOUND,
            ) from None

    def _chunks(self, job: JobRow) -> AsyncIterator[bytes]:
        return self.blobs.read(job.source["blob"])

    async def source(self, job: JobRow) -> Source:
        data = await self._bytes(job)
        src = job.source
        if src["kind"] == "document":
            return DocumentInput(data, src["doc_kind"], src["param"])
        images = [ValidImage(url, bytes.fromhex(digest), presized) for url, digest, presized in
                  json.loads(data)]  # fmt: skip
        return images[0] if src.get("single") else images

    # --- planning -----------------------------------------------------------------------
    async def plan(self, job: JobRow) -> tuple[int, list[UnitPlan]]:
        """The page count and the units of a ``pages`` job; `GatewayError` for a document
        the synchronous call refuses."""
        ctx = self.context(job)
        async with self.renders:
            document = await self.source(job)
            first = await load_pages(ctx, document, job.num_crops, "1")
        assert first is not None
        req = self.request(job)
        numbers = PageSelection.parse(req.pages).resolve(first.page_count)
        limit = self.settings.job_max_pages
        if len(numbers) > limit:
            assert isinstance(document, DocumentInput)
            raise DocumentError(
                413,
                f"document would render {len(numbers)} pages; the limit is {limit} per job "
                f"(GATEWAY_JOB_MAX_PAGES); choose some with pages, e.g. '1-{limit}'",
                param=document.param,
                code=ErrorCode.DOCUMENT_TOO_MANY_PAGES,
            )
        return first.page_count, page_ranges(numbers, self.settings.job_range_pages)

    # --- one unit -----------------------------------------------------------------------
    async def run(self, job: JobRow, unit: JobUnit, last_try: bool) -> dict[str, Any]:
        """The unit's record to store; ``EngineTrouble`` to retry it later (unless this is
        its ``last_try``: then the engine's error is recorded as the synchronous path would)."""
        ctx = self.context(job, unit.max_concurrent)
        try:
            specs = await self.specs(job)
            req = self.request(job)
            if job.mode == "whole":
                return await self._whole(ctx, job, specs, req, last_try)
            pages = await self._render(ctx, job, unit.pages)
            found = []
            for spec in specs:
                read = await read_pages(ctx, spec, req, pages, job.num_crops)
                for outcome in read.outcomes.values():
                    if (
                        isinstance(outcome, GatewayError)
                        and outcome.code in ENGINE_TROUBLE
                        and not last_try
                    ):
                        raise EngineTrouble(outcome)
                found.append(
                    {str(n): page_record(o, read.evidence.get(n)) for n, o in read.outcomes.items()}
                )
            return {"specs": found}
        except GatewayError as error:
            if error.code in ENGINE_TROUBLE and not last_try:
                raise EngineTrouble(error) from None
            return {"fatal": error_of(error)}

    async def _whole(
        self,
        ctx: Context,
        job: JobRow,
        specs: list[SchemaSpec[Any]],
        req: ExtractRequest,
        last_try: bool,
    ) -> dict[str, Any]:
        source = await self.source(job)
        if job.multi:
            many = await pipeline.extract_many(ctx, specs, req, source, job.num_crops)
            engine = [o for o in many.results.values() if o.status >= 500]
            if engine and not last_try:
                raise EngineTrouble(GatewayError(502, "engine", code=ErrorCode.UPSTREAM_ERROR))
            return {"result": json.loads(many.model_dump_json(by_alias=True))}
        result = await pipeline.extract(ctx, specs[0], req, source, job.num_crops)
        return {"result": json.loads(result.model_dump_json(by_alias=True))}

    # --- the end ------------------------------------------------------------------------
    async def finish(self, job: JobRow, records: list[dict[str, Any]]) -> Outcome:
        """The job's final status with its result or error, from its units' records."""
        for record in records:
            if "fatal" in record:
                return "failed", None, record["fatal"]
        if job.mode == "whole":
            return "completed", records[0]["result"], None
        ctx = self.context(job)
        try:
            specs = await self.specs(job)
            req = self.request(job)
            results: list[Any] = []
            for i, spec in enumerate(specs):
                kept = {int(n): rec for record in records for n, rec in record["specs"][i].items()}
                outcomes = {n: page_outcome(spec, rec) for n, rec in kept.items()}
                evidence = {n: e for n, rec in kept.items() if (e := page_evidence(rec))}
                try:
                    results.append(
                        await merge_pages(
                            ctx,
                            spec,
                            req,
                            job.page_count or 0,
                            outcomes,
                            job.num_crops,
                            lambda numbers: self._reread(ctx, job, numbers),
                            evidence,
                        )
                    )
                except GatewayError as error:
                    if not job.multi:
                        raise
                    results.append(error)  # one schema's error, as extract_many answers
            body: Any = many_result(ctx, specs, results) if job.multi else results[0]
            return "completed", json.loads(body.model_dump_json(by_alias=True)), None
        except GatewayError as error:
            return "failed", None, error_of(error)

    async def _reread(self, ctx: Context, job: JobRow, numbers: list[int]) -> PageSet:
        return await self._render(ctx, job, ",".join(map(str, numbers)))

    async def _render(self, ctx: Context, job: JobRow, selection: str) -> PageSet:
        """The pages of ``selection``, the document's bytes held only while rendering."""
        async with self.renders:
            pages = await load_pages(ctx, await self.source(job), job.num_crops, selection)
        assert pages is not None
        return pages
