"""The gateway's extraction pipeline in the predictor's process, without HTTP.

`Runtime` holds what the gateway's lifespan holds (the upstream client to vLLM, the SSRF-safe
fetch client, the decode slots, the render pool) and runs each prediction through the same
entry points as the gateway's routes: `gateway.pipeline.load_source` for the input and
`gateway.pipeline.extract` for a schema; a free prompt goes to vLLM as one chat completion
over the same checked images (`freeprompt`).

The clients are created on the first prediction, inside the event loop Cog runs ``run()``
on (aiohttp sessions belong to one loop), and shared by every concurrent prediction.

    runtime = Runtime(settings, model_revision="4a0d68…")
    output = await runtime.predict(inputs, prediction_id)
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
from pydantic import ValidationError

from .. import caps, pipeline
from ..documents import RenderPool
from ..errors import GatewayError
from ..evidence import ocr_pool
from ..images import DecodeSlots, ValidImage, default_decode_concurrency, make_fetch_client
from ..metrics import GatewayMetrics
from ..pipeline import Context, DocumentInput
from ..pipeline.models import ExtractRequest
from ..record import RequestRecord
from ..settings import Settings
from ..upstream import ReplicaSet, Upstream, make_upstream_session
from . import freeprompt
from .inputs import Inputs, PredictionError, from_gateway
from .output import Output, from_answer, from_result

__all__ = ["Runtime"]


class Runtime:
    """Shared clients and the two kinds of prediction (see the module docstring)."""

    def __init__(self, settings: Settings, model_revision: str) -> None:
        self.settings = settings
        self.model_revision = model_revision
        self.decode_slots = DecodeSlots(
            settings.image_decode_concurrency or default_decode_concurrency()
        )
        self.render_pool = RenderPool(settings.document_render_workers)
        self.ocr_pool = ocr_pool(settings)
        self.metrics = GatewayMetrics()
        self._upstream: Upstream | None = None
        self._fetch: httpx.AsyncClient | None = None
        self._lock = asyncio.Lock()

    async def _clients(self) -> tuple[Upstream, httpx.AsyncClient]:
        async with self._lock:
            if self._upstream is None or self._fetch is None:
                session = make_upstream_session(self.settings)
                replicas = ReplicaSet(
                    self.settings.replica_urls, self.metrics, self.settings.routing
                )
                self._upstream = Upstream(session, replicas, self.metrics)
                self._fetch = make_fetch_client(self.settings)
            return self._upstream, self._fetch

    async def aclose(self) -> None:
        if self._upstream is not None:
            await self._upstream.session.close()
        if self._fetch is not None:
            await self._fetch.aclose()
        await self.render_pool.aclose()
        if self.ocr_pool is not None:
            await self.ocr_pool.aclose()

    async def _context(self, prediction_id: str) -> Context:
        upstream, fetch = await self._clients()
        return Context(
            settings=self.settings,
            upstream=upstream,
            record=RequestRecord(prediction_id, time.perf_counter()),
            render_pool=self.render_pool,
            decode_slots=self.decode_slots,
            fetch_client=fetch,
            ocr_pool=self.ocr_pool,
        )

    async def predict(self, inputs: Inputs, prediction_id: str | None = None) -> Output:
        """One prediction; every expected failure is a `PredictionError` naming the input.
        ``prediction_id`` goes to vLLM as the request id (default: a fresh one)."""
        try:
            ctx = await self._context(prediction_id or f"cog-{uuid.uuid4().hex}")
            if inputs.schema:
                return await self._extract(ctx, inputs)
            return await self._answer(ctx, inputs)
        except GatewayError as exc:
            raise from_gateway(exc) from None

    async def _extract(self, ctx: Context, inputs: Inputs) -> Output:
        spec = pipeline.lookup_schema(inputs.schema, param="schema")
        if not inputs.has_image:
            raise PredictionError("image: a schema reads an image, a PDF or TIFF, or image_urls")
        crops = caps.num_crops(inputs.num_crops, spec.num_crops, self.settings, "num_crops")
        try:
            req = ExtractRequest(
                image_url=None if inputs.image_urls else "upload",
                image_urls=inputs.image_urls,
                pages=inputs.pages,
                hint=inputs.prompt or None,
                num_crops=inputs.num_crops,
                max_tokens=inputs.max_tokens,
                temperature=inputs.temperature,
                top_p=None if inputs.top_p == 1.0 else inputs.top_p,
                seed=inputs.seed,
                confidence=inputs.confidence,
                grounding=inputs.grounding,
            )
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "input"
            raise PredictionError(f"{where}: {first['msg']}") from None
        source = await pipeline.load_source(
            ctx, image_url=None, image_urls=req.image_urls, upload=inputs.upload, num_crops=crops
        )
        result = await pipeline.extract(ctx, spec, req, source, crops)
        return from_result(result, self.settings, self.model_revision)

    async def _answer(self, ctx: Context, inputs: Inputs) -> Output:
        if not inputs.prompt.strip():
            raise PredictionError("prompt: give a prompt, or a schema to extract with")
        if inputs.pages:
            raise PredictionError("pages: a free prompt reads images; pages need a schema")
        crops = caps.num_crops(
            inputs.num_crops, self.settings.default_num_crops, self.settings, "num_crops"
        )
        images: list[ValidImage] = []
        if inputs.has_image:
            source = await pipeline.load_source(
                ctx,
                image_url=None,
                image_urls=inputs.image_urls,
                upload=inputs.upload,
                num_crops=crops,
            )
            if isinstance(source, DocumentInput):
                raise PredictionError(
                    "image: a PDF or TIFF is read page by page with a schema; for a free "
                    "prompt send images"
                )
            images = source if isinstance(source, list) else [source]
        answer = await freeprompt.answer(ctx, inputs, images, crops)
        return from_answer(answer, self.settings, self.model_revision)
