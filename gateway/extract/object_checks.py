"""``POST /v1/verify/{name}``: a schema's checks on an object the caller sends.

(The wire name stays ``verify``; inside the code "checks" are the schema's checks, and the
``verify: "repair"`` option of extraction is the repair pass of `gateway.trust.repair`.)

The object is what ``data`` would be: the output of the caller's own OCR, a person's
correction of an extraction, or an extraction's ``data`` checked again. No model is asked;
the answer is the same ``checks``, ``review`` and ``review_reasons`` an extraction carries
(``review`` here is true when a check failed or a field the schema needs is null: there is no
confidence to weigh). An object that does not fit the
schema gets a 422 (``data_invalid``) listing every bad field.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from ..auth import ExtractKey
from ..bodies import parse_json_body, read_body
from ..errors import ErrorCode
from ..openapi import BODY, KEYED, error_responses
from ..pipeline.models import VerifyResponse
from ..pipeline.reading import invalid_data
from ..trust.verdict import reasons_for
from .context import context_of

__all__ = ["router"]

router = APIRouter(tags=["extraction"])

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "An object of the schema's type (GET /v1/schemas/{name} shows it).",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@router.post(
    "/v1/verify/{name}",
    response_model=VerifyResponse,
    summary="Run a schema's checks on your own object",
    openapi_extra=_BODY_DOC,
    responses=error_responses(*BODY, 404, *KEYED),
)
async def check_object(name: str, request: Request, key: ExtractKey) -> VerifyResponse:
    spec = await context_of(request).schemas.get(name, None)
    settings = request.app.state.settings
    raw = await read_body(request, settings.max_body_bytes)
    payload = await parse_json_body(raw, settings.json_steps_threshold_bytes)
    try:
        data = spec.model.model_validate(payload)
    except ValidationError as exc:
        subject = f"schema '{name}': the object"
        raise invalid_data(exc, subject, ErrorCode.DATA_INVALID, None, {}) from None
    checks = spec.run_checks(data)
    reasons = reasons_for(spec, checks, spec.missing_required(data))
    return VerifyResponse(
        schema_name=name,
        schema_version=spec.version,
        checks=checks,
        review=bool(reasons),
        review_reasons=reasons,
    )
