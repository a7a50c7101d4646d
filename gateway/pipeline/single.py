"""One reading of one schema, judged: the image (or a deck's slides) in, a typed result out.

The reading is `reading.read_once`'s; the verdict (confidence per field, the schema's
checks for the scope, needed fields, ``review`` and its reasons, the opt-in repair reading)
is `gateway.trust.repair.read_judged`'s.

    result = await extract_image(ctx, spec, req, [image], crops)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas import SchemaSpec

from .. import caps
from ..images import ValidImage
from ..trust.repair import Reading, Repair, TrustOptions, read_judged
from ..trust.verdict import Scope, Verdict
from .context import Context
from .grounding import Grounder
from .models import ExtractRequest, ExtractResponse, Usage
from .reading import read_once

__all__ = ["extract_image", "result_of", "trust_options"]


def trust_options(
    ctx: Context,
    spec: SchemaSpec[Any],
    req: ExtractRequest,
    scope: Scope,
    grounder: Grounder | None = None,
) -> TrustOptions:
    """What the request asks of the trust stage, over the gateway's settings."""
    settings = ctx.settings
    threshold = req.review_threshold
    return TrustOptions(
        confidence=req.confidence,
        threshold=settings.review_threshold if threshold is None else threshold,
        repair=req.verify == "repair",
        repair_crops=caps.num_crops(None, spec.max_num_crops, settings, "num_crops"),
        scope=scope,
        grounder=grounder.judge if grounder is not None else None,
    )


async def extract_image(
    ctx: Context,
    spec: SchemaSpec[Any],
    req: ExtractRequest,
    images: Sequence[ValidImage],
    num_crops: int,
    scope: Scope = "all",
    grounder: Grounder | None = None,
) -> ExtractResponse[Any]:
    """Run ``spec`` on ``images`` (one, or a deck's slides in one request) and judge the
    answer for ``scope``. ``num_crops`` has already been through ``caps.num_crops``.
    ``grounder`` (None: not grounded) has the pages' words read while the model answers."""

    async def ask(crops: int, note: str | None) -> Reading:
        reading = await read_once(ctx, spec, req, images, crops, note)
        if grounder is not None:
            await grounder.ready()
        return reading

    options = trust_options(ctx, spec, req, scope, grounder)
    reading, verdict, repair, usage = await read_judged(ask, spec, num_crops, options)
    return result_of(spec, reading, verdict, repair, usage, grounder)


def result_of(
    spec: SchemaSpec[Any],
    reading: Reading,
    verdict: Verdict,
    repair: Repair | None,
    usage: dict[str, int],
    grounder: Grounder | None = None,
) -> ExtractResponse[Any]:
    """One judged reading as the typed result (``usage``: every reading it took)."""
    return ExtractResponse[spec.model](  # type: ignore[name-defined]
        id=reading.id,
        schema_name=spec.name,
        schema_version=spec.version,
        model=reading.model,
        data=reading.data,
        confidence=verdict.confidence,
        checks=verdict.checks,
        review=verdict.review,
        review_reasons=verdict.review_reasons,
        repair=repair,
        finish_reason=reading.finish_reason,
        usage=Usage.model_validate(usage),
        grounding=verdict.grounding,
        grounding_engine=grounder.engine if grounder is not None else None,
        grounding_note=grounder.note if grounder is not None else None,
    )
