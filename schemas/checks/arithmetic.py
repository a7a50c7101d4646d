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

The checks built on these rules are the check language's ``sum``, ``product`` and
``expression`` (`schemas.checks.figures`); invoices and receipts declare theirs in
`schemas.checks.bills`.
"""

from __future__ import annotations

import decimal
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

__all__ = [
    "ROUNDINGS",
    "minor_unit",
    "money",
    "round_minor",
    "rounded",
    "rounds_to",
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
