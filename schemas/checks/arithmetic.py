"""Arithmetic checks of invoices and receipts, in `decimal` with a one-minor-unit tolerance.

Amounts arrive as JSON numbers, parsed to floats. Each is taken back to the shortest decimal
that prints as the same float (``repr``: ``0.1`` stays ``0.1``, not 0.1000000000000000055…)
and all arithmetic is exact ``Decimal``. Printed documents round each line and each total,
so two figures agree when they differ by at most one minor unit of the currency (0.01 EUR,
1 JPY, 0.001 KWD; 0.01 when the currency is unknown).

    >>> tolerance("JPY"), tolerance("KWD"), tolerance(None)
    (Decimal('1'), Decimal('0.001'), Decimal('0.01'))
    >>> agree(Decimal("8.51"), 8.52, "EUR")
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

from schemas.checks.result import Check, CheckResult, failed, passed, skipped

__all__ = [
    "LineLike",
    "agree",
    "line_checks",
    "line_amounts",
    "subtotal_matches_lines",
    "to_decimal",
    "tolerance",
    "total_matches_parts",
]

_MINOR_DIGITS = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}
"""ISO 4217 currencies whose minor unit is not a hundredth (every other one has 2 digits)."""


class LineLike(Protocol):
    """A line item as `invoice` and `receipt` share it (`schemas.line_item.LineItem`)."""

    @property
    def quantity(self) -> float | None: ...
    @property
    def unit_price(self) -> float | None: ...
    @property
    def amount(self) -> float | None: ...


def tolerance(currency: str | None) -> Decimal:
    """One minor unit of ``currency`` (ISO 4217 code), 0.01 if unknown."""
    return Decimal(1).scaleb(-_MINOR_DIGITS.get(currency or "", 2))


def to_decimal(value: float) -> Decimal:
    """The decimal the JSON number was written as (the float's shortest repr)."""
    return Decimal(repr(value))


def agree(expected: Decimal, printed: float, currency: str | None) -> bool:
    return abs(expected - to_decimal(printed)) <= tolerance(currency)


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f")


def line_amounts(
    name: str, lines: Sequence[LineLike], currency: str | None, pointer: str = "/line_items"
) -> CheckResult:
    """Each line's quantity × unit price equals its amount (lines missing one are left out)."""
    full = [
        (i, line)
        for i, line in enumerate(lines)
        if line.quantity is not None and line.unit_price is not None and line.amount is not None
    ]
    if not full:
        return skipped(name, [pointer], "no line has a quantity, a unit price and an amount")
    wrong = []
    fields = []
    for i, line in full:
        assert line.quantity is not None and line.unit_price is not None
        assert line.amount is not None
        product = to_decimal(line.quantity) * to_decimal(line.unit_price)
        here = [f"{pointer}/{i}/{f}" for f in ("quantity", "unit_price", "amount")]
        fields += here
        if not agree(product, line.amount, currency):
            wrong.append((here, f"line {i + 1}: {_fmt(product)} expected, {line.amount} printed"))
    if wrong:
        return failed(
            name,
            [f for here, _ in wrong for f in here],
            "quantity x unit price does not give the amount: "
            + "; ".join(text for _, text in wrong)
            + "; read those lines again",
        )
    return passed(name, fields, f"{len(full)} line(s): quantity x unit price = amount")


def subtotal_matches_lines(
    name: str,
    lines: Sequence[LineLike],
    subtotal: float | None,
    currency: str | None,
    pointer: str = "/line_items",
) -> CheckResult:
    """The line amounts add up to the subtotal."""
    fields = [f"{pointer}/{i}/amount" for i in range(len(lines))] + ["/subtotal"]
    if subtotal is None or not lines:
        return skipped(name, fields, "needs line items and a subtotal")
    missing = [i for i, line in enumerate(lines) if line.amount is None]
    if missing:
        return skipped(
            name, fields, f"line(s) {', '.join(str(i + 1) for i in missing)} lack an amount"
        )
    total = sum((to_decimal(line.amount) for line in lines if line.amount is not None), Decimal(0))
    if agree(total, subtotal, currency):
        return passed(name, fields, f"the {len(lines)} line amounts add up to {subtotal}")
    return failed(
        name,
        fields,
        f"the line amounts add up to {_fmt(total)}, the subtotal reads {subtotal}; read the "
        f"subtotal and the line amounts again",
    )


def total_matches_parts(
    name: str,
    parts: Sequence[tuple[str, float | None]],
    total: float | None,
    currency: str | None,
    optional: Sequence[str] = (),
) -> CheckResult:
    """The parts (``(pointer, amount)``: subtotal, tax …) add up to ``total``.

    A part whose pointer is in ``optional`` counts as 0 when missing (a receipt's tip); any
    other missing part, or a missing total, skips the check.
    """
    fields = [pointer for pointer, _ in parts] + ["/total"]
    needed = [p for p, value in parts if value is None and p not in optional]
    if total is None or needed:
        absent = [p[1:] for p in needed] + (["total"] if total is None else [])
        return skipped(name, fields, f"needs {', '.join(absent)}")
    values = [to_decimal(value) for _, value in parts if value is not None]
    expected = sum(values, Decimal(0))
    spelled = " + ".join(p[1:] for p, value in parts if value is not None)
    if agree(expected, total, currency):
        return passed(name, fields, f"{spelled} = {total}")
    return failed(
        name,
        fields,
        f"{spelled} = {_fmt(expected)}, but the total reads {total}; read the total, the "
        f"subtotal and the tax again",
    )


def line_checks() -> tuple[Check, Check]:
    """`line_amounts` and `subtotal_matches_lines` for a model with ``line_items``,
    ``subtotal`` and ``currency`` (invoice and receipt)."""

    def lines(doc: Any) -> CheckResult:
        return line_amounts("amounts.line_items", doc.line_items, doc.currency)

    def subtotal(doc: Any) -> CheckResult:
        return subtotal_matches_lines(
            "amounts.subtotal", doc.line_items, doc.subtotal, doc.currency
        )

    return lines, subtotal
