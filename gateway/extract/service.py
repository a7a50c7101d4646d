"""One extraction: ask vLLM with guided decoding, then validate the answer into the model.

vLLM's guided decoding makes every finished answer parse; what can still go wrong gets a
clear 422: an answer cut off at ``max_tokens`` (never a half object) or one that fails the
model's own validators. Both carry the raw output and usage in ``error.details``.

The crops and the answer budget go through ``caps`` like a chat request's, so the operator's
``GATEWAY_NUM_CROPS_MIN/MAX`` and ``GATEWAY_MAX_TOKENS_CAP`` hold here too.

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

__all__ = ["extract", "RAW_OUTPUT_LIMIT"]

RAW_OUTPUT_LIMIT = 4000
"""Characters of a failed answer returned in ``error.details.raw_output``."""


async def extract(
    request: Request,
    spec: SchemaSpec[Any],
    req: ExtractRequest,
    image: ValidImage | Sequence[ValidImage],
    num_crops: int,
) -> ExtractResponse[Any]:
    """Run ``spec`` on ``image`` (or on several images in one request: a deck's slides);
    ``num_crops`` has already been through ``caps.num_crops``."""
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
            code=ErrorCode.OUTPUT_INVALID,
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
