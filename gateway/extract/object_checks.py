"""``POST /v1/verify/{name}``: a schema's checks on an object the caller sends.

(The wire name stays ``verify``; inside the code "checks" are the schema's checks, and the
``verify: "repair"`` option of extraction is the repair pass of `gateway.trust.repair`.)

The object is what ``data`` would be: the output of the caller's own OCR, a person's
correction of an extraction, or an extraction's ``data`` checked again. No model is asked;
the answer is the same ``checks``, ``review`` and ``review_reasons`` an extraction carries
(``review`` here is true when a check failed or a field the schema needs is null: there is no
confidence to weigh). An object that does not fit the
schema gets a 422 (``data_invalid``) listing every bad field.

Sent as multipart, with the object as a ``data`` part (its JSON) and the document or image
as ``image`` (``pages`` optional), the object is also *grounded* against the page: each
transcribed value is looked for in the page's words (text layer, else OCR), exactly as an
extraction's are (`gateway.pipeline.grounding`), and the answer carries ``grounding`` and a
``grounding`` check that fails for a value printed nowhere. That checks a person's
correction, or another OCR's output, against the document itself.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError

from schemas import SchemaSpec

from ..auth import ExtractKey
from ..bodies import parse_json_body, read_body
from ..errors import ErrorCode, GatewayError
from ..openapi import BODY, KEYED, error_responses
from ..pipeline import Context
from ..pipeline.document import load_pages
from ..pipeline.grounding import Evidence, Grounder
from ..pipeline.models import VerifyResponse
from ..pipeline.reading import invalid_data
from ..pipeline.source import load_single
from ..trust.verdict import reasons_for
from .context import context_of
from .inputs import read_fields

__all__ = ["router"]

router = APIRouter(tags=["extraction"])

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "An object of the schema's type (GET /v1/schemas/{name} shows it); "
        "or, to ground it against a document, multipart with the object's JSON as `data` and "
        "the document or image as `image`.",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["data", "image"],
                    "properties": {
                        "data": {"type": "string", "description": "The object, as JSON."},
                        "image": {"type": "string", "format": "binary"},
                        "pages": {"type": "string", "description": "e.g. '1-3,5'."},
                    },
                }
            },
        },
    }
}
_FORM_FIELDS = {"data", "pages", "image_url"}


@router.post(
    "/v1/verify/{name}",
    response_model=VerifyResponse,
    summary="Run a schema's checks on your own object",
    openapi_extra=_BODY_DOC,
    responses=error_responses(*BODY, 404, *KEYED),
)
async def check_object(name: str, request: Request, key: ExtractKey) -> VerifyResponse:
    ctx = context_of(request)
    spec = await ctx.schemas.get(name, None)
    settings = request.app.state.settings
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await _ground_object(ctx, spec, name, request)
    raw = await read_body(request, settings.max_body_bytes)
    payload = await parse_json_body(raw, settings.json_steps_threshold_bytes)
    data = _validated(spec, name, payload)
    checks = spec.run_checks(data)
    reasons = reasons_for(spec, checks, spec.missing_required(data))
    return VerifyResponse(
        schema_name=name,
        schema_version=spec.version,
        checks=checks,
        review=bool(reasons),
        review_reasons=reasons,
    )


def _validated(spec: SchemaSpec[Any], name: str, payload: Any) -> BaseModel:
    try:
        return spec.model.model_validate(payload)
    except ValidationError as exc:
        subject = f"schema '{name}': the object"
        raise invalid_data(exc, subject, ErrorCode.DATA_INVALID, None, {}) from None


async def _ground_object(
    ctx: Context, spec: SchemaSpec[Any], name: str, request: Request
) -> VerifyResponse:
    """The object of the ``data`` part checked and grounded against the ``image`` part."""
    fields, upload = await read_fields(request, ctx.settings)
    unknown = sorted(set(fields) - _FORM_FIELDS)
    if unknown:
        raise GatewayError(
            400,
            f"unknown form field '{unknown[0]}': a grounded verification takes data, image "
            "and pages",
            param=unknown[0],
            code=ErrorCode.UNSUPPORTED_PARAMETER,
        )
    if "data" not in fields:
        raise GatewayError(
            400,
            "a multipart verification needs the object as a form field named 'data' (JSON)",
            param="data",
            code=ErrorCode.INVALID_VALUE,
        )
    try:
        payload = json.loads(fields["data"])
    except json.JSONDecodeError as exc:
        raise GatewayError(
            400, f"data is not JSON: {exc.msg} at character {exc.pos}", param="data",
            code=ErrorCode.INVALID_JSON,
        ) from None  # fmt: skip
    data = _validated(spec, name, payload)
    source = await load_single(ctx, None, upload, num_crops=1)
    pages = await load_pages(ctx, source, 1, fields.get("pages"))
    if pages is None:
        evidence, numbers = Evidence(ctx, source), [1]
    else:
        evidence = pages.evidence or Evidence(ctx, source)
        numbers = [number for number, _ in pages.pages]
    grounder = Grounder(spec, ctx.settings, [evidence.page(n, "always") for n in numbers])
    await grounder.ready()
    found, check = grounder.judge(data)
    grounding: dict[str, Any] | None = dict(found) if found is not None else None
    checks = [*spec.run_checks(data), *([check] if check is not None else [])]
    reasons = reasons_for(spec, checks, spec.missing_required(data))
    return VerifyResponse(
        schema_name=name,
        schema_version=spec.version,
        checks=checks,
        review=bool(reasons),
        review_reasons=reasons,
        grounding=grounding,
        grounding_engine=grounder.engine,
        grounding_note=grounder.note,
    )
