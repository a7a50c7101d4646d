"""The verdict on one extraction: per-field confidence, the schema's checks, and ``review``.

``review`` is what a caller automates on: true when any check failed, or any field's
confidence is under the threshold (``GATEWAY_REVIEW_THRESHOLD``, or the request's
``review_threshold``), or confidence was asked for and could not be computed. A skipped check
(a field not read) does not ask for review by itself; a null field's confidence does.

The repair pass (``verify: "repair"``) uses `repair_note` to tell the model what failed and
`better` to keep the better of two readings.

    >>> from schemas import get
    >>> spec = get("invoice")
    >>> v = assess(spec, spec.example, confidence={"/total": 0.42}, threshold=0.5)
    >>> v.review, [c.name for c in v.checks if c.status == "fail"]
    (True, [])
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, Field

from schemas import SchemaSpec
from schemas.checks import CheckResult

from .confidence import AlignmentError, field_confidence

__all__ = [
    "CheckList",
    "ConfidenceMap",
    "Review",
    "Verdict",
    "assess",
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


class Verdict(BaseModel):
    """Confidence, checks and review of one answer."""

    confidence: ConfidenceMap = None
    checks: CheckList
    review: Review


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
) -> Verdict:
    """Run the schema's checks on ``data`` and decide ``review``.

    ``confidence_expected`` says whether confidence was asked for: if it was and is None
    (unmappable), the answer goes to review rather than passing unscored.
    """
    checks = spec.run_checks(data)
    unsure = any(value < threshold for value in (confidence or {}).values())
    missing = confidence_expected and confidence is None
    review = unsure or missing or any(not c.ok for c in checks)
    return Verdict(confidence=confidence, checks=checks, review=review)


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
