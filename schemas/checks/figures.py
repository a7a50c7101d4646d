"""The numeric checks of the check language: ``sum``, ``product`` and ``expression``.

Each follows `schemas.checks.arithmetic`'s rule: sums and differences are exact in decimal,
only a product may differ from the printed figure, and only by rounding to the currency's
minor unit (half-up or half-even, so never more than half a unit). Each takes the answer as
plain JSON (``model_dump(mode="json")``) and returns one `CheckResult`.

    >>> s = SumCheck("t", items="/lines/*/amount", equals="/subtotal")
    >>> s({"lines": [{"amount": 1.1}, {"amount": 2.2}], "subtotal": 3.3}).status
    'pass'
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from schemas.checks.arithmetic import ROUNDINGS, money, round_minor, rounded
from schemas.checks.expression import Equation, label, number
from schemas.checks.result import CheckResult, failed, passed, skipped
from schemas.checks.walk import expand, list_of, row, stars
from schemas.pointers import is_blank, resolve

__all__ = ["ExpressionCheck", "ProductCheck", "SumCheck"]

_EXACT = decimal.Context(prec=80, traps=[decimal.InvalidOperation, decimal.DivisionByZero])


def _currency(data: Any, pointer: str | None) -> str | None:
    value = resolve(data, pointer) if pointer else None
    return value if isinstance(value, str) else None


def _shown(value: Decimal, pointer: str | None, currency: str | None) -> str:
    """Money with its minor unit's decimals where the check names a currency (``238.00``);
    a plain number otherwise (weights, counts: ``1560.75``, ``12``)."""
    if pointer is not None:
        return money(value, currency)
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


@dataclass(frozen=True)
class SumCheck:
    """The items (a ``*`` walks a list) add up to ``equals``, exactly. An empty list or an
    item without a value leaves nothing to compare: skipped."""

    name: str
    items: str
    equals: str
    currency: str | None = None

    def __call__(self, data: Any) -> CheckResult:
        pairs = expand(data, self.items)
        target = number(resolve(data, self.equals))
        fields = [*(at for at, _ in pairs), self.equals]
        what, whole = label(self.items), label(self.equals)
        if target is None or not pairs:
            return skipped(self.name, fields if pairs else [list_of(self.items), self.equals],
                           f"needs each {what} and the {whole}")  # fmt: skip
        values = [number(v) for _, v in pairs]
        lacking = [at[1:] for (at, _), v in zip(pairs, values, strict=True) if v is None]
        if lacking:
            return skipped(self.name, fields, f"no value for {', '.join(lacking)}")
        total = sum((v for v in values if v is not None), Decimal(0))
        cur = _currency(data, self.currency)
        shown = _shown(target, self.currency, cur)
        if total == target:
            return passed(self.name, fields, f"the {len(pairs)} {what} values add up to {shown}")
        return failed(
            self.name,
            fields,
            f"the {what} values add up to {_shown(total, self.currency, cur)}, but the {whole} "
            f"reads {shown}; read the {whole} and each {what} again",
        )


@dataclass(frozen=True)
class ProductCheck:
    """Per row (or once, without ``*``): the product of the factors, divided by
    ``divisor`` (100 for a rate in percent), rounded to the minor unit, less ``less``
    (a line's discount, taken off exactly whatever its sign; none when null) is ``equals``.

    ``inclusive``: a boolean field; when true, with factors ``[rate, base]``, the result may
    also be the rate's share of the gross, (base + result) × rate / (divisor + rate),
    rounded (a tax taken out of prices that include it). ``per_line``: where the list has
    one row and prices are not inclusive, the result may also be the sum of the rounded
    rate × each of these amounts / divisor, when those amounts add up to the base (a
    document that rounds its tax on each line). A row lacking a factor or the result is
    left out; no complete row: skipped.
    """

    name: str
    factors: tuple[str, ...]
    equals: str
    divisor: Decimal = Decimal(1)
    less: str | None = None
    currency: str | None = None
    inclusive: str | None = None
    per_line: str | None = None

    def _rows(self, data: Any) -> tuple[str | None, list[int | None]]:
        walked = [p for p in (*self.factors, self.equals) if stars(p)]
        if not walked:
            return None, [None]
        table = list_of(walked[0])
        found = resolve(data, table)
        return table, list(range(len(found))) if isinstance(found, list) else []

    def __call__(self, data: Any) -> CheckResult:
        cur = _currency(data, self.currency)
        table, rows = self._rows(data)

        def at(pointer: str, i: int | None) -> str:
            return row(pointer, i) if i is not None and stars(pointer) else pointer

        inclusive = self.inclusive is not None and resolve(data, self.inclusive) is True
        full: list[tuple[int | None, list[Decimal], Decimal]] = []
        for i in rows:
            read = [number(resolve(data, at(p, i))) for p in self.factors]
            result = number(resolve(data, at(self.equals, i)))
            known = [f for f in read if f is not None]
            if result is not None and len(known) == len(read):
                full.append((i, known, result))
        if not full:
            pointers = [f"{table}/{i}" for i in rows] if table and rows else [table or self.equals]
            if table is None:
                pointers = [*self.factors, self.equals]
            words = ", ".join(label(p) for p in (*self.factors, self.equals))
            return skipped(self.name, pointers, f"no row has a {words}")
        fields: list[str] = []
        wrong: list[tuple[list[str], str]] = []
        for i, factors, result in full:
            product = Decimal(1)
            for f in factors:
                product = _EXACT.multiply(product, f)
            product = _EXACT.divide(product, self.divisor)
            here = [at(p, i) for p in self.factors]
            off, less_word = Decimal(0), ""
            if self.less is not None:
                less = number(resolve(data, at(self.less, i)))
                if less is not None:
                    off = abs(less)
                    less_word = f" - {money(off, cur)}"
                    here.append(at(self.less, i))
            here.append(at(self.equals, i))
            fields += here
            allowed = {p - off for p in rounded(product, cur)}
            if inclusive and len(factors) == 2:
                rate, base = factors
                gross = _EXACT.multiply(base + result, rate)
                allowed |= rounded(_EXACT.divide(gross, self.divisor + rate), cur)
            if result in allowed:
                continue
            if not inclusive and len(rows) == 1 and result in self._per_line(data, factors, cur):
                fields += [p for p, _ in expand(data, self.per_line or "")] if self.per_line else []
                continue
            where = f"row {i + 1}: " if i is not None else ""
            shown = f"{money(product, cur)}{less_word}"
            wrong.append((here, f"{where}{shown} expected, {money(result, cur)} printed"))
        formula = " x ".join(label(p) for p in self.factors)
        formula += f" / {self.divisor.normalize():f}" if self.divisor != 1 else ""
        if wrong:
            return failed(
                self.name,
                [f for here, _ in wrong for f in here],
                f"{formula} does not give the {label(self.equals)}: "
                + "; ".join(text for _, text in wrong)
                + "; read those rows again",
            )
        return passed(self.name, fields, f"{len(full)} row(s): {formula} = {label(self.equals)}")

    def _per_line(self, data: Any, factors: list[Decimal], cur: str | None) -> set[Decimal]:
        if self.per_line is None or len(factors) != 2:
            return set()
        rate, base = factors
        amounts = [number(v) for _, v in expand(data, self.per_line)]
        if not amounts or any(a is None for a in amounts):
            return set()
        nets = [a for a in amounts if a is not None]
        if sum(nets, Decimal(0)) != base:
            return set()
        return {
            sum(
                (
                    round_minor(_EXACT.divide(_EXACT.multiply(net, rate), self.divisor), cur, mode)
                    for net in nets
                ),
                Decimal(0),
            )
            for mode in ROUNDINGS
        }


@dataclass(frozen=True)
class ExpressionCheck:
    """A linear equation of fields (`schemas.checks.expression`) holds exactly.
    ``requires``: fields that must have been read (not null, not ``[]``), else skipped."""

    name: str
    equation: Equation
    currency: str | None = None
    requires: tuple[str, ...] = ()

    def __call__(self, data: Any) -> CheckResult:
        cur = _currency(data, self.currency)
        left, right = self.equation.left.evaluate(data), self.equation.right.evaluate(data)
        fields = [*left.fields, *right.fields]
        unread = [p for p in self.requires if is_blank(resolve(data, p))]
        if unread:
            return skipped(self.name, [*unread, *fields],
                           f"needs {', '.join(label(p) for p in unread)}")  # fmt: skip
        lacking = left.lacking + right.lacking
        if lacking:
            return skipped(self.name, fields, f"needs {', '.join(lacking)}")
        if left.value == right.value:
            return passed(self.name, fields, f"{left.spelled()} = {right.spelled()}")
        lhs, rhs = (_shown(v, self.currency, cur) for v in (left.value, right.value))
        single = self.equation.right.single_field()
        if single is not None:
            return failed(
                self.name,
                fields,
                f"{left.spelled()} = {lhs}, but the {label(single)} reads {rhs}; read the "
                f"{label(single)} and the amounts it adds up again",
            )
        return failed(
            self.name,
            fields,
            f"{left.spelled()} = {lhs}, but {right.spelled()} = {rhs}; read these fields again",
        )
