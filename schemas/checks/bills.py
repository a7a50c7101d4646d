"""The arithmetic of a whole invoice or receipt: lines, discounts, charges, taxes, total.

A printed bill is a small ledger, and every figure in it is tied to others by `arithmetic`'s
rule (sums exact, only products rounded to the minor unit):

- each line: quantity × unit price (rounded) − its discount = its amount (``amounts.line_items``);
- the line amounts add up to the subtotal (``amounts.subtotal``);
- each tax line: rate × base (rounded) = its amount, or, where a document rounds the tax on
  each line and has one rate, the sum of the lines' rounded taxes (``amounts.tax_lines``);
- the tax lines' amounts add up to the tax (``amounts.tax``);
- the tax lines' bases add up to what was taxed, subtotal − discounts + charges
  (``amounts.tax_base``; with ``prices_include_tax`` the bases *and* tax amounts do, since the
  lines are gross). This is the only check that sees a misread base (a base one cent off
  rarely changes its rounded tax). A bill whose tax summary leaves an untaxed amount out
  (rather than listing it at 0%) fails it, and goes to a person: its summary does not
  account for the whole;
- subtotal − discounts + charges + taxes (+ a receipt's tip) + rounding = total
  (``amounts.total``; with ``prices_include_tax`` the taxes are inside the lines and do not
  add);
- total − amount paid = amount due, when both are printed (``amounts.amount_due``).

What counts as read: ``[]`` means none printed and counts as zero; ``null`` means not read,
and an amount a check needs (the lines or the subtotal, the tax or the tax lines, the total)
makes that check ``skipped``, never ``pass``. Where the subtotal is not read, the lines'
amounts stand in for it. Adjustments that are rarely printed count as zero when null (a
line's ``discount``, ``rounding``, a receipt's ``tip``), and a null ``prices_include_tax``
as false. Discounts are subtracted whatever their printed sign; ``rounding`` keeps its sign.

The line check works on one page alone (scope ``page``); every other check compares figures
that a long document prints on different pages, so they run on the merged document
(``document``). The checks are declared in the check language (`schemas.checks.language`),
the same one registered schemas use: `bill_check_specs` is the declaration, `bill_checks`
builds the list a kind declares.

    >>> from schemas.invoice import SPEC
    >>> {r.name: r.status for r in SPEC.run_checks(SPEC.example)}["amounts.tax_lines"]
    'pass'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas.checks.language import compile_checks
from schemas.checks.result import ScopedCheck

__all__ = ["bill_check_specs", "bill_checks"]


def bill_check_specs(extra: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The declarations (`schemas.checks.language`) of every bill check."""
    more = "".join(f" + /{name}?" for name in extra)
    goods = "(/subtotal ?? /line_items/*/amount)"
    adjusted = f"{goods} - abs(/discounts/*/amount) + /charges/*/amount"
    cur = {"currency": "/currency"}
    return [
        {
            "name": "amounts.line_items",
            "type": "product",
            "scope": "page",
            "factors": ["/line_items/*/quantity", "/line_items/*/unit_price"],
            "less": "/line_items/*/discount",
            "equals": "/line_items/*/amount",
            **cur,
        },
        {
            "name": "amounts.subtotal",
            "type": "sum",
            "items": "/line_items/*/amount",
            "equals": "/subtotal",
            **cur,
        },
        {
            "name": "amounts.tax_lines",
            "type": "product",
            "factors": ["/tax_lines/*/rate_percent", "/tax_lines/*/base"],
            "divisor": 100,
            "equals": "/tax_lines/*/amount",
            "inclusive": "/prices_include_tax",
            "per_line": "/line_items/*/amount",
            **cur,
        },
        {
            "name": "amounts.tax",
            "type": "expression",
            "expr": "/tax = /tax_lines/*/amount",
            "requires": ["/tax_lines"],
            **cur,
        },
        {
            "name": "amounts.tax_base",
            "type": "expression",
            "expr": "/tax_lines/*/base + when(/prices_include_tax, /tax_lines/*/amount) = "
            + adjusted,
            "requires": ["/tax_lines"],
            **cur,
        },
        {
            "name": "amounts.total",
            "type": "expression",
            "expr": f"{adjusted} + unless(/prices_include_tax, /tax ?? /tax_lines/*/amount)"
            f"{more} + /rounding? = /total",
            **cur,
        },
        {
            "name": "amounts.amount_due",
            "type": "expression",
            "expr": "/total - /amount_paid = /amount_due",
            **cur,
        },
    ]


def bill_checks(extra: Sequence[str] = ()) -> tuple[ScopedCheck, ...]:
    """Every bill check, in the order a bill reads; ``extra``: additive fields of the total
    that count as zero when null (a receipt's ``tip``)."""
    return compile_checks(bill_check_specs(extra))
