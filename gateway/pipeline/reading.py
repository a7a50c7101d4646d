"""The ask and answer stages: one request to vLLM, its answer validated into the model.

vLLM's guided decoding makes every finished answer parse; what can still go wrong gets a
clear 422: an answer cut off at ``max_tokens`` (never a half object) or one that fails the
model's own validators. Both carry the raw output and usage in ``error.details``.

The answer budget goes through ``caps`` like a chat request's, so the operator's
``GATEWAY_MAX_TOKENS_CAP`` holds here too. Every call runs inside the key's call budget
(`Context.calls`).

    reading = await read_once(ctx, spec, req, [image], crops)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from schemas import SchemaSpec

from .. import caps
from ..errors import ErrorCode, GatewayError
from ..images import ValidImage
from ..trust.repair import Reading
from .context import Context
from .models import ExtractRequest, Usage
from .prompt import build_request

__all__ = ["invalid_data", "read_once", "RAW_OUTPUT_LIMIT"]

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


async def read_once(
    ctx: Context,
    spec: SchemaSpec[Any],
    req: ExtractRequest,
    images: Sequence[ValidImage],
    num_crops: int,
    note: str | None = None,
) -> Reading:
    """One request to vLLM and its answer validated into the model (422 if it cannot be).
    Several images go in one request (a deck's slides), routed by the first one's digest."""
    settings = ctx.settings
    max_tokens = caps.max_tokens(req.max_tokens, spec.max_tokens, settings, "max_tokens")
    body = build_request(
        spec,
        model=settings.model_name,
        image_data_url=[i.url for i in images],
        hint=req.hint,
        num_crops=num_crops,
        max_tokens=max_tokens,
        temperature=settings.extract_default_temperature
        if req.temperature is None
        else req.temperature,
        seed=settings.extract_default_seed if req.seed is None else req.seed,
        note=note,
        logprobs=req.confidence,
        top_p=req.top_p,
    )
    # Routed by the image's digest: every schema on one image lands where its KV blocks are.
    async with ctx.calls.call():
        answer = await ctx.upstream.complete_json(
            body, ctx.record, f"/v1/extract/{spec.name}", affinity=images[0].digest
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
