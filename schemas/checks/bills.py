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
(``document``). `bill_checks` builds the list a kind declares.

    >>> from schemas.invoice import SPEC
    >>> {r.name: r.status for r in SPEC.run_checks(SPEC.example)}["amounts.tax_lines"]
    'pass'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from schemas.checks.arithmetic import (
    ROUNDINGS,
    LineLike,
    line_amounts,
    money,
    round_minor,
    rounded,
    subtotal_matches_lines,
    to_decimal,
)
from schemas.checks.result import CheckResult, ScopedCheck, failed, passed, skipped

__all__ = [
    "BillLike",
    "amount_due_matches",
    "bill_checks",
    "tax_base_matches",
    "tax_lines_match",
    "tax_matches_lines",
    "total_matches_parts",
]


class _Amount(Protocol):
    @property
    def amount(self) -> float | None: ...


class _TaxLine(Protocol):
    @property
    def rate_percent(self) -> float | None: ...
    @property
    def base(self) -> float | None: ...
    @property
    def amount(self) -> float | None: ...


class BillLike(Protocol):
    """The fields `invoice` and `receipt` share (a receipt adds ``tip``)."""

    @property
    def currency(self) -> str | None: ...
    @property
    def prices_include_tax(self) -> bool | None: ...
    @property
    def line_items(self) -> Sequence[LineLike]: ...
    @property
    def subtotal(self) -> float | None: ...
    @property
    def discounts(self) -> Sequence[_Amount]: ...
    @property
    def charges(self) -> Sequence[_Amount]: ...
    @property
    def tax_lines(self) -> Sequence[_TaxLine]: ...
    @property
    def tax(self) -> float | None: ...
    @property
    def rounding(self) -> float | None: ...
    @property
    def total(self) -> float | None: ...
    @property
    def amount_paid(self) -> float | None: ...
    @property
    def amount_due(self) -> float | None: ...


@dataclass
class _Sum:
    """A signed sum under construction: its terms in words, the fields read, what is lacking."""

    currency: str | None
    value: Decimal = Decimal(0)
    words: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    lacking: list[str] = field(default_factory=list)

    def add(self, word: str, pointer: str, amount: float | None, sign: int = 1) -> None:
        self.fields.append(pointer)
        if amount is None:
            self.lacking.append(pointer[1:])
            return
        value = to_decimal(amount)
        value = -abs(value) if sign < 0 else value
        self.value += value
        shown = money(abs(value) if sign < 0 else value, self.currency)
        self.words.append(f"{'-' if sign < 0 else '+'} {word} {shown}")

    def spelled(self) -> str:
        return " ".join(self.words).removeprefix("+ ")


def _goods(bill: BillLike, into: _Sum) -> None:
    """The subtotal, or where it was not read, every line's amount."""
    if bill.subtotal is not None or not bill.line_items:
        into.add("subtotal", "/subtotal", bill.subtotal)
        return
    if any(line.amount is None for line in bill.line_items):
        into.fields += ["/subtotal", "/line_items"]
        into.lacking.append("the subtotal or every line's amount")
        return
    for i, line in enumerate(bill.line_items):
        into.add("line", f"/line_items/{i}/amount", line.amount)


def _adjustments(bill: BillLike, into: _Sum) -> None:
    """Document discounts (subtracted) and charges (added); ``[]`` is none."""
    for i, discount in enumerate(bill.discounts):
        into.add("discount", f"/discounts/{i}/amount", discount.amount, sign=-1)
    for i, charge in enumerate(bill.charges):
        into.add("charge", f"/charges/{i}/amount", charge.amount)


def _inclusive(bill: BillLike) -> bool:
    return bill.prices_include_tax is True


def total_matches_parts(name: str, bill: BillLike, extra: Sequence[str] = ()) -> CheckResult:
    """Subtotal − discounts + charges + taxes + ``extra`` + rounding = total, exactly.

    ``extra`` names additive fields that count as zero when null (a receipt's ``tip``).
    """
    parts = _Sum(bill.currency)
    _goods(bill, parts)
    _adjustments(bill, parts)
    if _inclusive(bill):
        parts.fields.append("/prices_include_tax")
    elif bill.tax is not None or not bill.tax_lines:
        if bill.tax is None:
            parts.fields += ["/tax", "/tax_lines"]
            parts.lacking.append("the tax or the tax lines")
        else:
            parts.add("tax", "/tax", bill.tax)
    else:
        for i, line in enumerate(bill.tax_lines):
            parts.add("tax line", f"/tax_lines/{i}/amount", line.amount)
    for attr in (*extra, "rounding"):
        if (value := getattr(bill, attr)) is not None:
            parts.add(attr, f"/{attr}", value)
    fields = [*parts.fields, "/total"]
    if bill.total is None or parts.lacking:
        lacking = parts.lacking + (["total"] if bill.total is None else [])
        return skipped(name, fields, f"needs {', '.join(lacking)}")
    if parts.value == to_decimal(bill.total):
        return passed(name, fields, f"{parts.spelled()} = {bill.total}")
    return failed(
        name,
        fields,
        f"{parts.spelled()} = {money(parts.value, bill.currency)}, but the total reads "
        f"{bill.total}; read the total and the amounts it adds up again",
    )


def tax_matches_lines(name: str, bill: BillLike) -> CheckResult:
    """The tax is the sum of the tax lines' amounts, exactly."""
    fields = ["/tax", *(f"/tax_lines/{i}/amount" for i in range(len(bill.tax_lines)))]
    if bill.tax is None or not bill.tax_lines:
        pointers = fields if bill.tax_lines else ["/tax", "/tax_lines"]
        return skipped(name, pointers, "needs the tax and the tax lines")
    if any(line.amount is None for line in bill.tax_lines):
        return skipped(name, fields, "a tax line has no amount")
    amounts = [to_decimal(line.amount) for line in bill.tax_lines if line.amount is not None]
    total = sum(amounts, Decimal(0))
    if total == to_decimal(bill.tax):
        return passed(name, fields, f"the {len(bill.tax_lines)} tax line(s) add up to {bill.tax}")
    return failed(
        name,
        fields,
        f"the tax lines add up to {money(total, bill.currency)}, the tax reads {bill.tax}; "
        f"read the tax and the tax lines again",
    )


def tax_base_matches(name: str, bill: BillLike) -> CheckResult:
    """The tax lines' bases (plus their amounts, when prices include tax) add up to the
    subtotal − discounts + charges: every taxed amount is in exactly one tax line."""
    inclusive = _inclusive(bill)
    taxed = _Sum(bill.currency)
    for i, line in enumerate(bill.tax_lines):
        taxed.add("base", f"/tax_lines/{i}/base", line.base)
        if inclusive:
            taxed.add("tax", f"/tax_lines/{i}/amount", line.amount)
    net = _Sum(bill.currency)
    _goods(bill, net)
    _adjustments(bill, net)
    fields = [*taxed.fields, *net.fields]
    if not bill.tax_lines:
        return skipped(name, ["/tax_lines", *net.fields], "no tax lines were read")
    if taxed.lacking or net.lacking:
        return skipped(name, fields, f"needs {', '.join(taxed.lacking + net.lacking)}")
    what = "the bases and taxes (prices include tax)" if inclusive else "the bases"
    if taxed.value == net.value:
        return passed(name, fields, f"{what} of the tax lines add up to {net.spelled()}")
    return failed(
        name,
        fields,
        f"{what} of the tax lines add up to {money(taxed.value, bill.currency)}, but "
        f"{net.spelled()} = {money(net.value, bill.currency)}; read the tax lines, the "
        f"subtotal, the discounts and the charges again",
    )


def _per_line_tax(bill: BillLike, rate: Decimal, base: Decimal) -> set[Decimal]:
    """The tax of a document that rounds it on each line, one rate for all lines: the
    rounded per-line taxes summed (all half-up or all half-even). Empty where that does not
    apply: prices include tax, a line lacks its amount, or the lines do not make the base."""
    amounts = [line.amount for line in bill.line_items]
    if _inclusive(bill) or not amounts or any(a is None for a in amounts):
        return set()
    nets = [to_decimal(a) for a in amounts if a is not None]
    if sum(nets, Decimal(0)) != base:
        return set()
    return {
        sum((round_minor(net * rate / 100, bill.currency, mode) for net in nets), Decimal(0))
        for mode in ROUNDINGS
    }


def tax_lines_match(name: str, bill: BillLike) -> CheckResult:
    """Each tax line's rate × base, rounded, is its amount (or see `_per_line_tax`).

    With ``prices_include_tax`` the amount may also be taken out of the gross: the rate over
    100 + rate of base + amount, rounded. A tax line lacking its rate, base or amount is left
    out.
    """
    lines = bill.tax_lines
    full = [
        (i, t)
        for i, t in enumerate(lines)
        if t.rate_percent is not None and t.base is not None and t.amount is not None
    ]
    if not full:
        pointers = [f"/tax_lines/{i}" for i in range(len(lines))] or ["/tax_lines"]
        return skipped(name, pointers, "no tax line has a rate, a base and an amount")
    fields: list[str] = []
    wrong = []
    for i, t in full:
        assert t.rate_percent is not None and t.base is not None and t.amount is not None
        rate, base, amount = to_decimal(t.rate_percent), to_decimal(t.base), to_decimal(t.amount)
        here = [f"/tax_lines/{i}/{f}" for f in ("rate_percent", "base", "amount")]
        fields += here
        exact = rate * base / 100
        allowed = rounded(exact, bill.currency)
        if _inclusive(bill):
            allowed |= rounded((base + amount) * rate / (100 + rate), bill.currency)
        if amount in allowed:
            continue
        if len(lines) == 1 and amount in _per_line_tax(bill, rate, base):
            fields += [f"/line_items/{j}/amount" for j in range(len(bill.line_items))]
            continue
        text = f"tax line {i + 1}: {rate}% of {t.base} is {money(exact, bill.currency)}"
        wrong.append((here, f"{text}, {t.amount} printed"))
    if wrong:
        return failed(
            name,
            [f for here, _ in wrong for f in here],
            "rate x base does not give the tax: "
            + "; ".join(text for _, text in wrong)
            + "; read those tax lines again",
        )
    return passed(name, fields, f"{len(full)} tax line(s): rate x base = amount")


def amount_due_matches(name: str, bill: BillLike) -> CheckResult:
    """Total − amount paid = amount due, exactly, when all three are printed."""
    fields = ["/total", "/amount_paid", "/amount_due"]
    if bill.total is None or bill.amount_paid is None or bill.amount_due is None:
        return skipped(name, fields, "needs the total, the amount paid and the amount due")
    rest = to_decimal(bill.total) - to_decimal(bill.amount_paid)
    if rest == to_decimal(bill.amount_due):
        return passed(name, fields, f"{bill.total} - {bill.amount_paid} = {bill.amount_due}")
    return failed(
        name,
        fields,
        f"{bill.total} - {bill.amount_paid} = {money(rest, bill.currency)}, but the amount due "
        f"reads {bill.amount_due}; read the total, the amount paid and the amount due again",
    )


def bill_checks(extra: Sequence[str] = ()) -> tuple[ScopedCheck, ...]:
    """Every check above for a model with the `BillLike` fields, in the order a bill reads;
    ``extra``: additive fields of the total that count as zero when null (``tip``)."""

    def lines(bill: Any) -> CheckResult:
        return line_amounts("amounts.line_items", bill.line_items, bill.currency)

    def subtotal(bill: Any) -> CheckResult:
        return subtotal_matches_lines(
            "amounts.subtotal", bill.line_items, bill.subtotal, bill.currency
        )

    def tax_lines(bill: Any) -> CheckResult:
        return tax_lines_match("amounts.tax_lines", bill)

    def tax(bill: Any) -> CheckResult:
        return tax_matches_lines("amounts.tax", bill)

    def base(bill: Any) -> CheckResult:
        return tax_base_matches("amounts.tax_base", bill)

    def total(bill: Any) -> CheckResult:
        return total_matches_parts("amounts.total", bill, extra)

    def due(bill: Any) -> CheckResult:
        return amount_due_matches("amounts.amount_due", bill)

    return (
        ScopedCheck(lines, "page"),
        *(ScopedCheck(c, "document") for c in (subtotal, tax_lines, tax, base, total, due)),
    )
