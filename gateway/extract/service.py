"""One extraction: ask vLLM with guided decoding, validate the answer into the model, verify.

vLLM's guided decoding makes every finished answer parse; what can still go wrong gets a
clear 422: an answer cut off at ``max_tokens`` (never a half object) or one that fails the
model's own validators. Both carry the raw output and usage in ``error.details``.

The crops and the answer budget go through ``caps`` like a chat request's, so the operator's
``GATEWAY_NUM_CROPS_MIN/MAX`` and ``GATEWAY_MAX_TOKENS_CAP`` hold here too.

The verification (per-field confidence from logprobs, the schema's checks, ``review``, the
opt-in repair reading) is `repair.read_verified`'s; this module makes each reading.

    result = await extract(request, spec, req, image, crops)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from schemas import SchemaSpec

from .. import caps
from ..errors import ErrorCode, GatewayError
from ..images import ValidImage
from ..record import record_of
from ..settings import Settings
from .models import ExtractRequest, ExtractResponse, Usage
from .prompt import build_request
from ..trust.repair import Reading, TrustOptions, read_verified

__all__ = ["extract", "invalid_data", "read_once", "RAW_OUTPUT_LIMIT"]

RAW_OUTPUT_LIMIT = 4000
"""Characters of a failed answer returned in ``error.details.raw_output``."""


def invalid_data(
    exc: ValidationError,
    subject: str,
    code: ErrorCode,
    param_prefix: str | None,
    details: dict[str, Any],
) -> GatewayError:
    """422 for an object that does not fit its schema, listing every bad field in
    ``details.errors`` (``{"field": "line_items.1.amount", "message", "type"}``) and naming
    the first in the message and in ``param`` (under ``param_prefix``, e.g. ``data``)."""
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False)
    ]
    field = errors[0]["field"]
    param = ".".join(p for p in (param_prefix, field) if p) or None
    return GatewayError(
        422,
        f"{subject} failed validation ({len(errors)} error(s); first: {field or 'root'}: "
        f"{errors[0]['message']})",
        param=param,
        code=code,
        details=details | {"errors": errors},
    )


async def extract(
    request: Request,
    spec: SchemaSpec[Any],
    req: ExtractRequest,
    image: ValidImage | Sequence[ValidImage],
    num_crops: int,
) -> ExtractResponse[Any]:
    """Run ``spec`` on ``image`` (or on several images in one request: a deck's slides)
    and verify the answer (`repair.read_verified`): confidence
    per field, the schema's checks, ``review``, and with ``verify: "repair"`` at most one
    more reading. ``num_crops`` has already been through ``caps.num_crops``."""
    settings: Settings = request.app.state.settings
    options = TrustOptions(
        confidence=req.confidence,
        threshold=settings.review_threshold
        if req.review_threshold is None
        else req.review_threshold,
        repair=req.verify == "repair",
        repair_crops=caps.num_crops(None, spec.max_num_crops, settings, "num_crops"),
    )

    async def ask(crops: int, note: str | None) -> Reading:
        return await read_once(request, spec, req, image, crops, note)

    reading, verdict, repair, usage = await read_verified(ask, spec, num_crops, options)
    return ExtractResponse[spec.model](  # type: ignore[name-defined]
        id=reading.id,
        schema_name=spec.name,
        model=reading.model,
        data=reading.data,
        confidence=verdict.confidence,
        checks=verdict.checks,
        review=verdict.review,
        repair=repair,
        finish_reason=reading.finish_reason,
        usage=Usage.model_validate(usage),
    )


async def read_once(
    request: Request,
    spec: SchemaSpec[Any],
    req: ExtractRequest,
    image: ValidImage | Sequence[ValidImage],
    num_crops: int,
    note: str | None = None,
) -> Reading:
    """One request to vLLM and its answer validated into the model (422 if it cannot be).
    Several images go in one request (a deck's slides), routed by the first one's digest."""
    images = [image] if isinstance(image, ValidImage) else list(image)
    state = request.app.state
    settings: Settings = state.settings
    max_tokens = caps.max_tokens(req.max_tokens, spec.max_tokens, settings, "max_tokens")
    body = build_request(
        spec,
        model=settings.model_name,
        image_data_url=[i.url for i in images],
        hint=req.hint,
        num_crops=num_crops,
        max_tokens=max_tokens,
        temperature=req.temperature,
        seed=req.seed,
        note=note,
        logprobs=req.confidence,
    )
    # Routed by the image's digest: every schema on one image lands where its KV blocks are.
    answer = await state.upstream.complete_json(
        body, record_of(request), f"/v1/extract/{spec.name}", affinity=images[0].digest
    )
    try:
        choice = answer["choices"][0]
        content = choice["message"]["content"] or ""
        finish = str(choice["finish_reason"])
        usage = Usage.model_validate(answer["usage"])
    except (KeyError, IndexError, TypeError, ValidationError):
        raise GatewayError(
            502,
            "the model server's answer lacks choices or usage",
            code=ErrorCode.UPSTREAM_MALFORMED,
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
            code=ErrorCode.OUTPUT_TRUNCATED,
            details=details,
        )
    try:
        data = spec.model.model_validate_json(content)
    except ValidationError as exc:
        subject = f"schema '{spec.name}': the answer"
        raise invalid_data(exc, subject, ErrorCode.OUTPUT_INVALID, "data", details) from None
    return Reading(
        data=data,
        content=content,
        logprobs=choice.get("logprobs"),
        usage=usage.model_dump(),
        finish_reason=finish,
        id=str(answer.get("id", "")),
        model=str(answer.get("model", settings.model_name)),
        num_crops=num_crops,
    )
