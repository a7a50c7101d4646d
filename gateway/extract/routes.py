"""The extraction API's routes: an image in, a validated, typed object out.

    POST /v1/extract/{name}       one schema on one image (JSON body or multipart upload),
                                  or on a PDF/TIFF document or a list of images (``pages``)
    POST /v1/extract              several schemas on one image or document, concurrently

With ``Prefer: respond-async`` either one answers ``202`` and a job instead
(`gateway.jobs.submit`): a document of up to ``GATEWAY_JOB_MAX_PAGES`` pages, read in the
background, its result the body the synchronous call would have answered.

Each built-in schema gets its own route (``/v1/extract/passport`` →
``ExtractResponse[Passport]``) so the OpenAPI document carries the real type of ``data``; a
schema registered through the API (`gateway.custom`) is served by the generic
``/v1/extract/{name}``, its ``data`` untyped there. The schema list is `gateway.custom`'s.
The routes only read the request (``inputs``) and call the extraction pipeline
(`gateway.pipeline.extract`), which batch workers and the Cog predictor call too.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from schemas import SchemaSpec, all_specs

from .. import caps, pipeline
from ..auth import ExtractKey
from ..errors import ErrorCode, GatewayError
from ..jobs.submit import prefers_async, submit_job
from ..openapi import BODY, KEYED, UPSTREAM, error_responses
from ..pipeline import split_ref
from ..pipeline.lookup import unknown_version
from ..pipeline.models import (
    DocumentResponse,
    ExtractRequest,
    ExtractResponse,
    MultiExtractRequest,
    MultiExtractResponse,
)
from .context import context_of
from .inputs import read_extract_request, request_body_doc

__all__ = ["router"]

router = APIRouter(tags=["extraction"], responses=error_responses(*KEYED))

ASYNC: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "With `Prefer: respond-async`: the request is an extraction job "
        "(`Location: /v1/jobs/{id}`; docs/jobs.md)"
    }
}


def _route_for(spec: SchemaSpec[Any]) -> None:
    async def extract_one(
        request: Request, key: ExtractKey
    ) -> ExtractResponse[Any] | DocumentResponse[Any] | Response:
        settings = request.app.state.settings

        def crops_for(req: ExtractRequest) -> int:
            if req.schema_version not in (None, spec.version):
                raise unknown_version(spec.name, req.schema_version, "schema_version")
            return caps.num_crops(req.num_crops, spec.num_crops, settings, "num_crops")

        if prefers_async(request):
            return await submit_job(request, key, ExtractRequest, crops_for, lambda _: [spec])
        req, source = await read_extract_request(request, ExtractRequest, crops_for)
        return await pipeline.extract(context_of(request), spec, req, source, crops_for(req))

    model = spec.model
    router.add_api_route(
        f"/v1/extract/{spec.name}",
        extract_one,
        methods=["POST"],
        response_model=ExtractResponse[model] | DocumentResponse[model],  # type: ignore[valid-type]
        summary=f"Extract: {spec.description}",
        name=f"extract_{spec.name}",
        openapi_extra=request_body_doc(ExtractRequest),
        responses=error_responses(*BODY, 404, *UPSTREAM) | ASYNC,  # 404: no schema_version
    )


for _spec in all_specs():
    _route_for(_spec)


@router.post(
    "/v1/extract/{name}",
    response_model=ExtractResponse[Any] | DocumentResponse[Any],
    summary="Extract with a schema registered through the API (data untyped)",
    openapi_extra=request_body_doc(ExtractRequest),
    responses=error_responses(*BODY, 404, *UPSTREAM) | ASYNC,
)
async def extract_registered(
    name: str, request: Request, key: ExtractKey
) -> ExtractResponse[Any] | DocumentResponse[Any] | Response:
    """Every built-in has its own route above, so ``name`` is a registered schema (the
    latest version, or ``schema_version``) or a 404 that lists the known ones."""
    settings = request.app.state.settings
    ctx = context_of(request)
    found: list[SchemaSpec[Any]] = []

    async def crops_for(req: ExtractRequest) -> int:
        if not found:
            found.append(await ctx.schemas.get(name, req.schema_version, "schema_version"))
        return caps.num_crops(req.num_crops, found[0].num_crops, settings, "num_crops")

    if prefers_async(request):
        return await submit_job(request, key, ExtractRequest, crops_for, lambda _: found)
    req, source = await read_extract_request(request, ExtractRequest, crops_for)
    spec = found[0]
    return await pipeline.extract(ctx, spec, req, source, await crops_for(req))


@router.post(
    "/v1/extract",
    response_model=MultiExtractResponse,
    summary="Several schemas on one image, concurrently",
    openapi_extra=request_body_doc(MultiExtractRequest),
    responses=error_responses(*BODY, 404, *UPSTREAM) | ASYNC,
)
async def extract_many(request: Request, key: ExtractKey) -> MultiExtractResponse | Response:
    settings = request.app.state.settings

    ctx = context_of(request)
    found: list[SchemaSpec[Any]] = []

    async def crops_for(req: MultiExtractRequest) -> int:
        """One crop count for all, so every schema's prompt shares the image's KV blocks (and
        the image is pre-sized once). Unknown or repeated names fail here, before image work;
        ``name@2`` pins a version."""
        if req.schema_version is not None:
            raise GatewayError(
                400,
                "several schemas: pin each version in schemas, e.g. 'bill_of_lading@2'",
                param="schema_version",
                code=ErrorCode.INVALID_VALUE,
            )
        refs = [split_ref(ref) for ref in req.schemas]
        if not found:
            for i, (n, version) in enumerate(refs):
                found.append(await ctx.schemas.get(n, version, f"schemas[{i}]"))
        specs = found
        if len({n for n, _ in refs}) != len(refs):
            raise GatewayError(
                400,
                "schemas must not repeat a name",
                param="schemas",
                code=ErrorCode.INVALID_VALUE,
            )
        default = max(spec.num_crops for spec in specs)
        return caps.num_crops(req.num_crops, default, settings, "num_crops")

    if prefers_async(request):
        return await submit_job(request, key, MultiExtractRequest, crops_for, lambda _: found)
    req, source = await read_extract_request(request, MultiExtractRequest, crops_for)
    return await pipeline.extract_many(ctx, found, req, source, await crops_for(req))
