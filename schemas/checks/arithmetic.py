"""Arithmetic of printed amounts, exact in `decimal`; only products may round.

Amounts arrive as JSON numbers, parsed to floats. Each is taken back to the shortest decimal
that prints as the same float (``repr``: ``0.1`` stays ``0.1``, not 0.1000000000000000055…)
and all arithmetic is exact ``Decimal``. The rule is the one a printed document follows:

- **Sums and differences are exact.** The line amounts add up to the subtotal to the last
  digit; a total misread by one cent (238.01 against 238.00) fails.
- **A product may be rounded**, and only to the currency's minor unit (0.01 EUR, 1 JPY,
  0.001 KWD; 0.01 when the currency is unknown): quantity × unit price, a tax rate × its
  base. The printed figure must be the exact product, or the product rounded half-up, or
  rounded half-even (both are in use), so it is never more than half a unit away.

    >>> minor_unit("JPY"), minor_unit("KWD"), minor_unit(None)
    (Decimal('1'), Decimal('0.001'), Decimal('0.01'))
    >>> rounds_to(Decimal("8.515"), 8.52, "EUR"), rounds_to(Decimal("8.515"), 8.51, "EUR")
    (True, False)
    >>> rounds_to(Decimal("0.125"), 0.12, "EUR"), rounds_to(Decimal("0.125"), 0.13, "EUR")
    (True, True)

The checks of whole invoices and receipts built on these rules are in `schemas.checks.bills`.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Protocol

from schemas.checks.result import CheckResult, failed, passed, skipped

__all__ = [
    "ROUNDINGS",
    "LineLike",
    "line_amounts",
    "minor_unit",
    "money",
    "round_minor",
    "rounded",
    "rounds_to",
    "subtotal_matches_lines",
    "to_decimal",
]

_MINOR_DIGITS = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}
"""ISO 4217 currencies whose minor unit is not a hundredth (every other one has 2 digits)."""

ROUNDINGS = (ROUND_HALF_UP, ROUND_HALF_EVEN)
"""The roundings a printed product may use (both are in use, and differ only on ties)."""

_EXACT = decimal.Context(prec=80, traps=[decimal.InvalidOperation])
"""Wide enough that no product or quantize of bounded amounts (|x| <= 1e12) ever rounds."""


class LineLike(Protocol):
    """A line item as `invoice` and `receipt` share it (`schemas.line_item.LineItem`)."""

    @property
    def quantity(self) -> float | None: ...
    @property
    def unit_price(self) -> float | None: ...
    @property
    def discount(self) -> float | None: ...
    @property
    def amount(self) -> float | None: ...


def minor_unit(currency: str | None) -> Decimal:
    """One minor unit of ``currency`` (ISO 4217 code), 0.01 if unknown."""
    return Decimal(1).scaleb(-_MINOR_DIGITS.get(currency or "", 2))


def to_decimal(value: float) -> Decimal:
    """The decimal the JSON number was written as (the float's shortest repr)."""
    return Decimal(repr(value))


def round_minor(exact: Decimal, currency: str | None, mode: str = ROUND_HALF_UP) -> Decimal:
    """``exact`` rounded to the minor unit of ``currency`` (``mode``: a `decimal` rounding)."""
    return exact.quantize(minor_unit(currency), rounding=mode, context=_EXACT)


def rounded(exact: Decimal, currency: str | None) -> set[Decimal]:
    """What a document may print for the product ``exact``: itself, or it rounded to the
    minor unit half-up or half-even."""
    return {exact, *(round_minor(exact, currency, mode) for mode in ROUNDINGS)}


def rounds_to(exact: Decimal, printed: float, currency: str | None) -> bool:
    """``printed`` is the product ``exact`` as a document may print it (see `rounded`)."""
    return to_decimal(printed) in rounded(exact, currency)


def money(value: Decimal, currency: str | None = None) -> str:
    """``value`` as a document prints it: at least the minor unit's decimals (``238.00``)."""
    unit = minor_unit(currency)
    if value == value.quantize(unit, context=_EXACT):
        value = value.quantize(unit, context=_EXACT)
    else:
        value = value.normalize()
    return format(value, "f")


def _times(a: float, b: float) -> Decimal:
    return _EXACT.multiply(to_decimal(a), to_decimal(b))


def line_amounts(
    name: str, lines: Sequence[LineLike], currency: str | None, pointer: str = "/line_items"
) -> CheckResult:
    """Each line's quantity × unit price, rounded, less its discount, is its amount.

    The product may round (see `rounded`); the discount comes off exactly. A line lacking a
    quantity, a unit price or an amount is left out; a missing discount counts as none.
    """
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
        product = _times(line.quantity, line.unit_price)
        here = [f"{pointer}/{i}/{f}" for f in ("quantity", "unit_price", "amount")]
        off = Decimal(0)
        if line.discount is not None:
            off = abs(to_decimal(line.discount))
            here.insert(2, f"{pointer}/{i}/discount")
        fields += here
        if to_decimal(line.amount) not in {p - off for p in rounded(product, currency)}:
            less = f" - {money(off, currency)}" if line.discount is not None else ""
            expected = money(product, currency) + less
            wrong.append((here, f"line {i + 1}: {expected} expected, {line.amount} printed"))
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
    """The line amounts add up to the subtotal, exactly."""
    fields = [f"{pointer}/{i}/amount" for i in range(len(lines))] + ["/subtotal"]
    if subtotal is None or not lines:
        return skipped(name, fields or ["/subtotal"], "needs line items and a subtotal")
    missing = [i for i, line in enumerate(lines) if line.amount is None]
    if missing:
        return skipped(
            name, fields, f"line(s) {', '.join(str(i + 1) for i in missing)} lack an amount"
        )
    total = sum((to_decimal(line.amount) for line in lines if line.amount is not None), Decimal(0))
    if total == to_decimal(subtotal):
        return passed(name, fields, f"the {len(lines)} line amounts add up to {subtotal}")
    return failed(
        name,
        fields,
        f"the line amounts add up to {money(total, currency)}, the subtotal reads {subtotal}; "
        f"read the subtotal and the line amounts again",
    )
