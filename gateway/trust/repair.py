"""Read, judge, and (opt-in) read once more: the trust stage of one extraction.

`read_judged` asks for one reading through a callback (the route owns prompts, routing and
validation), scores it (`verdict.assess`), and with ``repair`` on and a failed check
asks exactly once more: the same image at the schema's largest useful crop count, with a
note of what failed. It returns the reading whose checks pass, or the better of the two,
with both attempts' checks and the usage of both. A second reading that fails outright
(truncated, invalid, engine error) is reported in its attempt and the first reading stands.
There is no loop: at most one extra call per schema, whatever the second reading says.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from schemas import SchemaSpec
from schemas.checks import CheckResult

from ..errors import GatewayError
from .verdict import Scope, Verdict, assess, better, confidence_of, repair_note

__all__ = [
    "Attempt",
    "Reading",
    "Repair",
    "TrustOptions",
    "attempt_of",
    "judge",
    "read_judged",
    "sum_usage",
]


@dataclass(frozen=True)
class Reading:
    """One validated answer from the engine and what it cost."""

    data: BaseModel
    content: str
    logprobs: Any
    """The choice's ``logprobs`` object as vLLM sent it (None when not asked for)."""
    usage: dict[str, int]
    finish_reason: str
    id: str
    model: str
    num_crops: int


@dataclass(frozen=True)
class TrustOptions:
    """What the caller asked of the trust stage (request fields over settings)."""

    confidence: bool
    threshold: float
    repair: bool
    repair_crops: int
    """Crops for the second reading: the schema's ``max_num_crops`` within the gateway's cap."""
    scope: Scope = "all"
    """Which checks judge the reading (`verdict.Scope`): a page of a document runs only the
    checks a page can verify, so it is never re-read for a total printed on another page."""
    grounder: Callable[[BaseModel], tuple[dict[str, Any] | None, CheckResult | None]] | None = None
    """Grounds a reading: its grounding map and ``grounding`` check (None: not grounded).
    A failed ``grounding`` check names the fields in the repair note like any check."""


Ask = Callable[[int, str | None], Awaitable[Reading]]
"""(num_crops, repair note or None) → one validated reading; raises `GatewayError`."""


class Attempt(BaseModel):
    """One reading of a repair pass."""

    num_crops: int = Field(description="Crops the image was read at.")
    checks: list[CheckResult] = Field(description="This reading's checks.")
    review: bool | None = Field(default=None, description="This reading's review flag.")
    usage: dict[str, int] | None = Field(default=None, description="This reading's tokens.")
    error: dict[str, Any] | None = Field(
        default=None, description="Why this reading produced no answer (the error body)."
    )
    pages: list[int] | None = Field(
        default=None,
        description="For a document: the pages this attempt read again (those holding the "
        "fields of a failed document check); null for the first reading.",
    )


class Repair(BaseModel):
    """Both readings of a repair pass and which one `data` is."""

    attempts: list[Attempt] = Field(description="The first reading, then the repair reading.")
    chosen: int = Field(description="Index in `attempts` of the reading returned as `data`.")


def sum_usage(*usages: dict[str, int]) -> dict[str, int]:
    keys = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {k: sum(int(u.get(k, 0)) for u in usages) for k in keys}


def judge(spec: SchemaSpec[Any], reading: Reading, options: TrustOptions) -> Verdict:
    """The verdict on one reading: confidence (if asked for), checks, review."""
    conf = confidence_of(reading.content, reading.logprobs) if options.confidence else None
    grounding, check = options.grounder(reading.data) if options.grounder else (None, None)
    return assess(
        spec,
        reading.data,
        confidence=conf,
        threshold=options.threshold,
        confidence_expected=options.confidence,
        scope=options.scope,
        extra_checks=[check] if check is not None else [],
        grounding=grounding,
    )


def attempt_of(reading: Reading, verdict: Verdict) -> Attempt:
    return Attempt(
        num_crops=reading.num_crops,
        checks=verdict.checks,
        review=verdict.review,
        usage=reading.usage,
    )


async def read_judged(
    ask: Ask, spec: SchemaSpec[Any], num_crops: int, options: TrustOptions
) -> tuple[Reading, Verdict, Repair | None, dict[str, int]]:
    """The reading to return, its verdict, the repair record (None without a second
    reading) and the usage of every reading made."""
    first = await ask(num_crops, None)
    verdict = judge(spec, first, options)
    if not options.repair or all(c.ok for c in verdict.checks):
        return first, verdict, None, first.usage
    attempts = [attempt_of(first, verdict)]
    try:
        second = await ask(options.repair_crops, repair_note(verdict.checks))
    except GatewayError as exc:
        usage = (exc.details or {}).get("usage") or {}
        error = exc.body()["error"]
        failed = Attempt(
            num_crops=options.repair_crops, checks=[], usage=usage or None, error=error
        )
        repair = Repair(attempts=[*attempts, failed], chosen=0)
        return first, verdict, repair, sum_usage(first.usage, usage)
    second_verdict = judge(spec, second, options)
    attempts.append(attempt_of(second, second_verdict))
    chosen = better(verdict, second_verdict)
    usage = sum_usage(first.usage, second.usage)
    repair = Repair(attempts=attempts, chosen=chosen)
    if chosen:
        return second, second_verdict, repair, usage
    return first, verdict, repair, usage
