"""The verdict on one extraction: per-field confidence, the schema's checks, and ``review``.

``review`` is what a caller automates on: true when any check failed, or any field's
confidence is under the threshold (``GATEWAY_REVIEW_THRESHOLD``, or the request's
``review_threshold``), or confidence was asked for and could not be computed, or a field the
schema needs (``SchemaSpec.required``: an invoice's number, date and total) is null, or a
check was skipped for want of one. A skipped check over fields the schema can do without
(a subtotal a receipt does not print) does not ask for review by itself. Every reason is
listed in ``review_reasons``, so a person sees why.

Which checks run depends on what is judged (`Scope`): a single image runs all of them; one
page of a document runs only those a page can verify alone (a line's quantity × unit
price); the merged document runs the rest (lines against subtotal, the total), and only it
asks for the needed fields, since page 2 of an invoice rightly lacks its number.

The repair pass (``verify: "repair"``) uses `repair_note` to tell the model what failed and
`better` to keep the better of two readings.

    >>> from schemas import get
    >>> spec = get("invoice")
    >>> v = assess(spec, spec.example, confidence={"/total": 0.42}, threshold=0.5)
    >>> v.review, [c.name for c in v.checks if c.status == "fail"]
    (True, [])
    >>> [(r.kind, r.subject) for r in v.review_reasons]
    [('low_confidence', '/total')]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from schemas import SchemaSpec
from schemas.checks import CheckResult, blocked_by

from .confidence import AlignmentError, field_confidence

__all__ = [
    "CheckList",
    "ConfidenceMap",
    "Review",
    "ReviewReason",
    "ReviewReasons",
    "Scope",
    "Verdict",
    "assess",
    "assess_document",
    "reasons_for",
    "better",
    "confidence_of",
    "repair_note",
]

log = logging.getLogger("gateway.trust.verdict")

NOTE_LIMIT = 600
"""Characters of failed-check messages a repair prompt carries: enough for several checks,
short enough to keep the recomputed tail of the prompt small."""


ConfidenceMap = Annotated[
    dict[str, float] | None,
    Field(
        description="JSON Pointer of every leaf of `data` → the lowest probability among the "
        "tokens that spell its value, in [0, 1]. Null when the request set `confidence: "
        "false`, or when the tokens could not be mapped (then `review` is true)."
    ),
]
CheckList = Annotated[
    list[CheckResult],
    Field(
        description="The schema's deterministic checks (check digits, arithmetic, dates), "
        "each pass, fail or skipped (a field it needs was not read)."
    ),
]
Review = Annotated[
    bool,
    Field(
        description="True when a check failed or a field's confidence is under the threshold: "
        "the answer needs a person's look."
    ),
]
"""The three fields every result carries (an extraction, one schema of several, a page), as
types: a result model declares them where they read best."""

Scope = Literal["all", "page", "document"]
"""What is judged: a single image (every check), one page of a document (the checks a page
can verify alone), or a merged document (the rest, and the needed fields)."""

ReasonKind = Literal[
    "check_failed",
    "check_skipped",
    "low_confidence",
    "no_confidence",
    "missing_field",
    "page_failed",
    "page_review",
]


class ReviewReason(BaseModel):
    """One reason why ``review`` is true."""

    kind: ReasonKind = Field(
        description="check_failed | check_skipped (a needed field was not read) | "
        "low_confidence | no_confidence (the tokens could not be scored) | missing_field (a "
        "needed field is null) | page_failed | page_review (a page of a document)."
    )
    subject: str = Field(
        description="The check's name, the field's JSON Pointer, or the page number."
    )
    message: str = Field(description="What a person should look at.")


ReviewReasons = Annotated[
    list[ReviewReason],
    Field(description="Why `review` is true; empty when it is false."),
]


class Verdict(BaseModel):
    """Confidence, checks and review of one answer."""

    confidence: ConfidenceMap = None
    checks: CheckList
    review: Review
    review_reasons: ReviewReasons = Field(default_factory=list)
    grounding: dict[str, Any] | None = None
    """Where each transcribed value was found (`gateway.trust.grounding`); None when the
    answer was not grounded."""


def confidence_of(content: str, logprobs: Any) -> dict[str, float] | None:
    """Per-leaf confidence from a chat choice's ``logprobs`` object, or None if unusable."""
    tokens = logprobs.get("content") if isinstance(logprobs, Mapping) else None
    if not isinstance(tokens, list):
        return None
    try:
        return field_confidence(content, tokens)
    except (AlignmentError, ValueError, TypeError, KeyError) as exc:
        log.warning("no confidence: the tokens do not map onto the answer (%s)", exc)
        return None


def assess(
    spec: SchemaSpec[Any],
    data: BaseModel,
    *,
    confidence: dict[str, float] | None,
    threshold: float,
    confidence_expected: bool = True,
    scope: Scope = "all",
    extra_checks: Sequence[CheckResult] = (),
    grounding: dict[str, Any] | None = None,
) -> Verdict:
    """Run the schema's checks for ``scope`` on ``data`` and decide ``review``.

    ``confidence_expected`` says whether confidence was asked for: if it was and is None
    (unmappable), the answer goes to review rather than passing unscored. ``extra_checks``
    judge the answer with the schema's (the ``grounding`` check, whose map is
    ``grounding``).
    """
    checks = [*spec.run_checks(data, scope=scope), *extra_checks]
    missing = spec.missing_required(data) if scope != "page" else []
    reasons = reasons_for(spec, checks, missing)
    for pointer, value in (confidence or {}).items():
        if value < threshold:
            message = f"{pointer} was read with confidence {value:.2f}, under {threshold:g}"
            reasons.append(ReviewReason(kind="low_confidence", subject=pointer, message=message))
    if confidence_expected and confidence is None:
        message = "confidence was asked for but the answer's tokens could not be scored"
        reasons.append(ReviewReason(kind="no_confidence", subject="/", message=message))
    return Verdict(
        confidence=confidence,
        checks=checks,
        review=bool(reasons),
        review_reasons=reasons,
        grounding=grounding,
    )


def reasons_for(
    spec: SchemaSpec[Any], checks: Sequence[CheckResult], missing: Sequence[str]
) -> list[ReviewReason]:
    """The reasons the checks and the needed fields give: failed checks, checks skipped
    because a needed field is null (``missing``), and those needed fields themselves."""
    reasons = [
        ReviewReason(kind="check_failed", subject=c.name, message=c.message)
        for c in checks
        if c.status == "fail"
    ]
    reasons += [
        ReviewReason(kind="check_skipped", subject=c.name, message=c.message)
        for c in blocked_by(checks, missing)
    ]
    reasons += [
        ReviewReason(
            kind="missing_field",
            subject=pointer,
            message=f"{pointer} is needed to act on this {spec.name} and was not read",
        )
        for pointer in missing
    ]
    return reasons


def repair_note(checks: Sequence[CheckResult]) -> str:
    """What failed, in the checks' own words, for the model's second reading."""
    failed = [c.message for c in checks if c.status == "fail"]
    note = "A check of an earlier reading of this image failed: " + " | ".join(failed)
    if len(note) > NOTE_LIMIT:
        note = note[: NOTE_LIMIT - 1] + "…"
    return note


def _rank(verdict: Verdict) -> tuple[int, float]:
    fails = sum(c.status == "fail" for c in verdict.checks)
    lowest = min((verdict.confidence or {}).values(), default=0.0)
    return fails, -lowest


def better(first: Verdict, second: Verdict) -> int:
    """0 or 1: the reading to return. Fewer failed checks wins, then the higher lowest
    confidence; a tie keeps the first (the reading the caller asked for)."""
    return 1 if _rank(second) < _rank(first) else 0


def assess_document(
    spec: SchemaSpec[Any],
    merged: BaseModel | None,
    pages: Sequence[tuple[int, Verdict | None]],
) -> Verdict:
    """The verdict on a merged document: its document-level checks and needed fields, and
    every page's own verdict (``None``: the page failed). The pages' confidence stays with
    the pages."""
    checks = spec.run_checks(merged, scope="document") if merged is not None else []
    missing = spec.missing_required(merged) if merged is not None else []
    reasons: list[ReviewReason] = []
    for number, verdict in pages:
        if verdict is None:
            message = f"page {number} produced no answer"
            reasons.append(ReviewReason(kind="page_failed", subject=str(number), message=message))
        elif verdict.review:
            first = verdict.review_reasons[0].message if verdict.review_reasons else "review"
            message = f"page {number}: {first}"
            reasons.append(ReviewReason(kind="page_review", subject=str(number), message=message))
    reasons += reasons_for(spec, checks, missing)
    return Verdict(checks=checks, review=bool(reasons), review_reasons=reasons)
