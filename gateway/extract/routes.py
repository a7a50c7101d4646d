"""The extraction API's routes: an image in, a validated, typed object out.

    GET  /v1/schemas              every registered schema (name, description, JSON Schema)
    GET  /v1/schemas/{name}       one of them
    POST /v1/extract/{name}       one schema on one image (JSON body or multipart upload),
                                  or on a PDF/TIFF document or a list of images (``pages``)
    POST /v1/extract              several schemas on one image or document, concurrently

Each schema gets its own route (``/v1/extract/passport`` → ``ExtractResponse[Passport]``) so
the OpenAPI document carries the real type of ``data``. The routes only read the request
(``inputs``) and call the extraction pipeline (`gateway.pipeline.extract`), which batch
workers and the Cog predictor call too.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from schemas import SchemaSpec, all_specs

from .. import caps, pipeline
from ..auth import ExtractKey
from ..errors import ErrorCode, GatewayError
from ..openapi import BODY, KEYED, UPSTREAM, error_responses
from ..pipeline import lookup_schema
from ..pipeline.models import (
    DocumentResponse,
    ExtractRequest,
    ExtractResponse,
    MultiExtractRequest,
    MultiExtractResponse,
    SchemaInfo,
    SchemaList,
)
from .context import context_of
from .inputs import read_extract_request, request_body_doc

__all__ = ["router"]

router = APIRouter(tags=["extraction"], responses=error_responses(*KEYED))


def _info(spec: SchemaSpec[Any]) -> SchemaInfo:
    return SchemaInfo(
        name=spec.name,
        description=spec.description,
        num_crops=spec.num_crops,
        max_tokens=spec.max_tokens,
        json_schema=spec.json_schema(),
    )


@router.get("/v1/schemas", response_model=SchemaList, summary="List extraction schemas")
async def list_schemas(key: ExtractKey) -> SchemaList:
    return SchemaList(data=[_info(spec) for spec in all_specs()])


@router.get(
    "/v1/schemas/{name}",
    response_model=SchemaInfo,
    summary="One extraction schema",
    responses=error_responses(404),
)
async def get_schema(name: str, key: ExtractKey) -> SchemaInfo:
    return _info(lookup_schema(name))


def _route_for(spec: SchemaSpec[Any]) -> None:
    async def extract_one(
        request: Request, key: ExtractKey
    ) -> ExtractResponse[Any] | DocumentResponse[Any]:
        settings = request.app.state.settings

        def crops_for(req: ExtractRequest) -> int:
            return caps.num_crops(req.num_crops, spec.num_crops, settings, "num_crops")

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
        responses=error_responses(*BODY, *UPSTREAM),
    )


for _spec in all_specs():
    _route_for(_spec)


@router.post("/v1/extract/{name}", include_in_schema=False)
async def extract_unknown(name: str, key: ExtractKey) -> None:
    lookup_schema(name)  # every known name has its own route above: this always raises 404


@router.post(
    "/v1/extract",
    response_model=MultiExtractResponse,
    summary="Several schemas on one image, concurrently",
    openapi_extra=request_body_doc(MultiExtractRequest),
    responses=error_responses(*BODY, 404, *UPSTREAM),
)
async def extract_many(request: Request, key: ExtractKey) -> MultiExtractResponse:
    settings = request.app.state.settings

    def crops_for(req: MultiExtractRequest) -> int:
        """One crop count for all, so every schema's prompt shares the image's KV blocks (and
        the image is pre-sized once). Unknown or repeated names fail here, before image work."""
        specs = [lookup_schema(n, param=f"schemas[{i}]") for i, n in enumerate(req.schemas)]
        if len(set(req.schemas)) != len(req.schemas):
            raise GatewayError(
                400,
                "schemas must not repeat a name",
                param="schemas",
                code=ErrorCode.INVALID_VALUE,
            )
        default = max(spec.num_crops for spec in specs)
        return caps.num_crops(req.num_crops, default, settings, "num_crops")

    req, source = await read_extract_request(request, MultiExtractRequest, crops_for)
    specs = [lookup_schema(n) for n in req.schemas]
    ctx = context_of(request)
    return await pipeline.extract_many(ctx, specs, req, source, crops_for(req))
