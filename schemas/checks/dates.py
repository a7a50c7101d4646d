"""Date checks: that dates come in the order a document's life allows.

Dates arrive as ISO 8601 strings (the schemas' ``IsoDate``, already pattern-checked), but a
pattern admits ``2023-02-30``; such a date fails here, naming its field, instead of being
compared. No check reads today's date: a result must not change with the day it runs.

    >>> ordered("dates.order", [("/issued", "2002-04-16"), ("/expires", "2012-04-15")]).status
    'pass'
    >>> ordered("dates.order", [("/issued", "2002-04-16"), ("/expires", "2002-02-30")]).message
    'no such calendar day: expires 2002-02-30'

"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from schemas.checks.result import Check, CheckResult, failed, passed, skipped

__all__ = ["order_check", "ordered", "parse_date", "validity_check", "validity_period"]


def parse_date(text: str) -> dt.date | None:
    """The calendar date of ``YYYY-MM-DD``, or None if no such day exists."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _add_years(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _present(pairs: Sequence[tuple[str, str | None]]) -> list[tuple[str, str]]:
    return [(field, text) for field, text in pairs if text is not None]


def _impossible(name: str, pairs: Sequence[tuple[str, str]]) -> CheckResult | None:
    bad = [(field, text) for field, text in pairs if parse_date(text) is None]
    if not bad:
        return None
    listed = ", ".join(f"{field[1:]} {text}" for field, text in bad)
    return failed(name, [f for f, _ in bad], f"no such calendar day: {listed}")


def ordered(name: str, dates: Sequence[tuple[str, str | None]]) -> CheckResult:
    """Each present date is on or after the one before it, in the order given.

    ``dates`` are ``(pointer, ISO date or None)``; fewer than two present: skipped.
    """
    present = _present(dates)
    fields = [field for field, _ in dates]
    if len(present) < 2:
        return skipped(name, fields, "fewer than two of these dates are present")
    if (impossible := _impossible(name, present)) is not None:
        return impossible
    for (first, a), (second, b) in zip(present, present[1:], strict=False):
        if parse_date(b) < parse_date(a):  # type: ignore[operator]
            return failed(
                name,
                [first, second],
                f"{second[1:]} {b} is before {first[1:]} {a}; read both dates again",
            )
    order = " <= ".join(field[1:] for field, _ in present)
    return passed(name, [field for field, _ in present], f"in order: {order}")


def validity_period(
    name: str, start: tuple[str, str | None], end: tuple[str, str | None], max_years: int
) -> CheckResult:
    """``end`` is after ``start`` by at most ``max_years`` (a plausible validity period)."""
    fields = [start[0], end[0]]
    if start[1] is None or end[1] is None:
        return skipped(name, fields, f"needs both {start[0][1:]} and {end[0][1:]}")
    present = [(start[0], start[1]), (end[0], end[1])]
    if (impossible := _impossible(name, present)) is not None:
        return impossible
    first, last = parse_date(start[1]), parse_date(end[1])
    assert first is not None and last is not None
    limit = _add_years(first, max_years)
    if first < last <= limit:
        return passed(name, fields, f"valid {(last - first).days} days, at most {max_years} years")
    return failed(
        name,
        fields,
        f"a validity from {start[1]} to {end[1]} is not plausible (expected after the start "
        f"and at most {max_years} years); read both dates again",
    )


def order_check(name: str, *attrs: str) -> Check:
    """`ordered` over a model's date attributes, in the order given."""

    def check(data: Any) -> CheckResult:
        return ordered(name, [(f"/{a}", getattr(data, a)) for a in attrs])

    return check


def validity_check(name: str, start: str, end: str, max_years: int) -> Check:
    """`validity_period` between two of a model's date attributes."""

    def check(data: Any) -> CheckResult:
        return validity_period(
            name, (f"/{start}", getattr(data, start)), (f"/{end}", getattr(data, end)), max_years
        )

    return check
