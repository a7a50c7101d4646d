"""The extraction API: an image in, a validated, typed object out.

    GET  /v1/schemas              every registered schema (name, description, JSON Schema)
    GET  /v1/schemas/{name}       one of them
    POST /v1/extract/{name}       one schema on one image (JSON body or multipart upload)
    POST /v1/extract              several schemas on one image, concurrently

Each schema gets its own route (``/v1/extract/passport`` → ``ExtractResponse[Passport]``) so
the OpenAPI document carries the real type of ``data``. vLLM's guided decoding makes every
finished answer parse; what can still go wrong gets a clear 422: an answer cut off at
``max_tokens`` (never a half object) or one that fails the model's own validators. Both carry
the raw output and usage in ``error.details``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from schemas import SchemaSpec, UnknownSchemaError, all_specs, get

from .auth import require_scope
from .chat import parse_json_object
from .errors import GatewayError
from .extract_models import (
    ExtractError,
    ExtractRequest,
    ExtractResponse,
    MultiExtractRequest,
    MultiExtractResponse,
    SchemaInfo,
    SchemaList,
    SchemaOutcome,
    Usage,
)
from .extract_prompt import build_request
from .images import ValidImage, check_image_bytes, validate_image
from .keys import KeyRecord
from .proxy import read_body
from .settings import Settings

__all__ = ["router"]

router = APIRouter(tags=["extraction"])
ExtractKey = Annotated[KeyRecord, Depends(require_scope("extract"))]
RAW_OUTPUT_LIMIT = 4000
"""Characters of a failed answer returned in ``error.details.raw_output``."""


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    form = {
        "type": "object",
        "required": ["image"],
        "properties": {
            "image": {"type": "string", "format": "binary"},
            **{
                k: v for k, v in model.model_json_schema()["properties"].items() if k != "image_url"
            },
        },
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": model.model_json_schema()},
                "multipart/form-data": {"schema": form},
            },
        }
    }


def _info(spec: SchemaSpec[Any]) -> SchemaInfo:
    return SchemaInfo(
        name=spec.name,
        description=spec.description,
        num_crops=spec.num_crops,
        max_tokens=spec.max_tokens,
        json_schema=spec.json_schema(),
    )


def _lookup(name: str, param: str | None = None) -> SchemaSpec[Any]:
    try:
        return get(name)
    except UnknownSchemaError as exc:
        raise GatewayError(404, str(exc), param=param, code="unknown_schema") from None


@router.get("/v1/schemas", response_model=SchemaList, summary="List extraction schemas")
async def list_schemas(key: ExtractKey) -> SchemaList:
    return SchemaList(data=[_info(spec) for spec in all_specs()])


@router.get("/v1/schemas/{name}", response_model=SchemaInfo, summary="One extraction schema")
async def get_schema(name: str, key: ExtractKey) -> SchemaInfo:
    return _info(_lookup(name))


async def _read(request: Request, model: type[ExtractRequest]) -> tuple[Any, ValidImage]:
    """The validated request and the checked image (data URL and digest for routing), from
    JSON or multipart."""
    state = request.app.state
    settings: Settings = state.settings
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        fields, image = await _read_form(request, settings)
    else:
        fields, image = parse_json_object(await read_body(request, settings.max_body_bytes)), None
    if image is not None:
        fields.setdefault("image_url", "upload")
    try:
        parsed = model.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [dict(e, loc=("body", *e["loc"])) for e in exc.errors(include_url=False)]
        ) from None
    if parsed.max_tokens is not None and parsed.max_tokens > settings.max_tokens_cap:
        raise GatewayError(
            400,
            f"max_tokens {parsed.max_tokens} exceeds the cap of {settings.max_tokens_cap}",
            param="max_tokens",
            code="max_tokens_too_large",
        )
    if image is not None:
        checked = await anyio.to_thread.run_sync(
            lambda: check_image_bytes(image, settings, param="image")
        )
        url = f"data:{checked.mime};base64," + base64.b64encode(image).decode()
        return parsed, ValidImage(url, hashlib.sha256(image).digest())
    valid = await validate_image(
        parsed.image_url, settings, state.fetch_client, param="image_url", digest=True
    )
    return parsed, valid


async def _read_form(request: Request, settings: Settings) -> tuple[dict[str, Any], bytes]:
    form = await request.form(max_files=1, max_fields=32, max_part_size=settings.max_body_bytes)
    upload = form.get("image")
    if not isinstance(upload, UploadFile):
        raise GatewayError(
            400,
            "multipart requests need the image as a file part named 'image'",
            param="image",
            code="image_missing",
        )
    data = await upload.read(settings.max_image_bytes + 1)
    fields: dict[str, Any] = {
        k: v for k, v in form.multi_items() if isinstance(v, str) and k != "schemas"
    }
    listed = [v for v in form.getlist("schemas") if isinstance(v, str)]
    if listed:
        fields["schemas"] = [n.strip() for v in listed for n in v.split(",") if n.strip()]
    return fields, data


async def _extract(
    request: Request,
    spec: SchemaSpec[Any],
    req: ExtractRequest,
    image: ValidImage,
    num_crops: int,
) -> ExtractResponse[Any]:
    state = request.app.state
    settings: Settings = state.settings
    max_tokens = req.max_tokens or spec.max_tokens
    body = build_request(
        spec,
        model=settings.model_name,
        image_data_url=image.url,
        hint=req.hint,
        num_crops=num_crops,
        max_tokens=max_tokens,
        temperature=req.temperature,
        seed=req.seed,
    )
    # Routed by the image's digest: every schema on one image lands where its KV blocks are.
    answer = await state.upstream.complete_json(
        body, request.state, f"/v1/extract/{spec.name}", affinity=image.digest
    )
    try:
        choice = answer["choices"][0]
        content = choice["message"]["content"] or ""
        finish = str(choice["finish_reason"])
        usage = Usage.model_validate(answer["usage"])
    except (KeyError, IndexError, TypeError, ValidationError):
        raise GatewayError(
            502, "the model server's answer lacks choices or usage", code="upstream_malformed"
        ) from None
    details = {
        "schema": spec.name,
        "max_tokens": max_tokens,
        "finish_reason": finish,
        "usage": usage.model_dump(),
        "raw_output": content[:RAW_OUTPUT_LIMIT],
    }
    if finish == "length":
        raise GatewayError(
            422,
            f"schema '{spec.name}': the answer reached max_tokens={max_tokens} before the JSON "
            f"was complete; send a larger max_tokens (this schema's default is "
            f"{spec.max_tokens})",
            param="max_tokens",
            code="output_truncated",
            details=details,
        )
    try:
        data = spec.model.model_validate_json(content)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False)
        ]
        first = errors[0]
        raise GatewayError(
            422,
            f"schema '{spec.name}': the answer failed validation ({len(errors)} error(s); "
            f"first: {first['field'] or 'root'}: {first['message']})",
            param=f"data.{first['field']}" if first["field"] else "data",
            code="output_invalid",
            details=details | {"errors": errors},
        ) from None
    return ExtractResponse[spec.model](  # type: ignore[name-defined]
        id=str(answer.get("id", "")),
        schema_name=spec.name,
        model=str(answer.get("model", settings.model_name)),
        data=data,
        finish_reason=finish,
        usage=usage,
    )


def _route_for(spec: SchemaSpec[Any]) -> None:
    async def extract_one(request: Request, key: ExtractKey) -> ExtractResponse[Any]:
        req, image = await _read(request, ExtractRequest)
        return await _extract(request, spec, req, image, req.num_crops or spec.num_crops)

    router.add_api_route(
        f"/v1/extract/{spec.name}",
        extract_one,
        methods=["POST"],
        response_model=ExtractResponse[spec.model],  # type: ignore[name-defined]
        summary=f"Extract: {spec.description}",
        name=f"extract_{spec.name}",
        openapi_extra=_body_doc(ExtractRequest),
    )


for _spec in all_specs():
    _route_for(_spec)


@router.post("/v1/extract/{name}", include_in_schema=False)
async def extract_unknown(name: str, key: ExtractKey) -> None:
    _lookup(name)  # every known name has its own route above: this always raises 404


@router.post(
    "/v1/extract",
    response_model=MultiExtractResponse,
    summary="Several schemas on one image, concurrently",
    openapi_extra=_body_doc(MultiExtractRequest),
)
async def extract_many(request: Request, key: ExtractKey) -> MultiExtractResponse:
    req, image = await _read(request, MultiExtractRequest)
    specs = [_lookup(n, param=f"schemas[{i}]") for i, n in enumerate(req.schemas)]
    if len(set(req.schemas)) != len(req.schemas):
        raise GatewayError(400, "schemas must not repeat a name", param="schemas")
    # One crop count for all, so every schema's prompt shares the image's cached KV blocks.
    crops = req.num_crops or max(spec.num_crops for spec in specs)
    outcomes = await asyncio.gather(
        *(_extract(request, spec, req, image, crops) for spec in specs), return_exceptions=True
    )
    results: dict[str, SchemaOutcome] = {}
    for spec, outcome in zip(specs, outcomes, strict=True):
        if isinstance(outcome, GatewayError):
            err = ExtractError.model_validate(outcome.body()["error"])
            results[spec.name] = SchemaOutcome(status=outcome.status, error=err)
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            data = json.loads(outcome.data.model_dump_json())
            results[spec.name] = SchemaOutcome(
                status=200, data=data, finish_reason=outcome.finish_reason, usage=outcome.usage
            )
    failed = [o for o in outcomes if isinstance(o, GatewayError)]
    if failed and len(failed) == len(outcomes) and all(e.status >= 500 for e in failed):
        raise failed[0]  # the engine is down or broken: the request as a whole failed
    return MultiExtractResponse(model=request.app.state.settings.model_name, results=results)
