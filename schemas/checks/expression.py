"""Linear equations of fields, parsed with a small grammar and evaluated exactly in decimal.

An ``expression`` check (`schemas.checks.language`) states how printed figures tie together,
``"/subtotal - /discount + /tax = /total"``. It is parsed here once, at registration, into
two linear forms (never ``eval``): a product of two fields is refused, since a product may
round and belongs in a ``product`` check. The grammar:

    equation := sum "=" sum
    sum      := ["+" | "-"] term (("+" | "-") term)*
    term     := factor (("*" | "/") factor)*          (one side of "*" and "/" is a number)
    factor   := NUMBER | "-" factor | "(" sum ")" | choice
              | "when" "(" POINTER "," sum ")"     (counts when the field is true)
              | "unless" "(" POINTER "," sum ")"   (counts unless the field is true)
    choice   := field ("??" field)*                 (the first that was read)
    field    := POINTER ["?"] | "abs" "(" POINTER ["?"] ")"

What counts as read: a field that is null was not read and makes the check ``skipped``,
unless it is marked ``?`` (a rarely printed adjustment: a tip, a rounding), which counts as
zero when null. A ``*`` walks a list and adds every element; ``[]`` (none printed) adds
nothing. ``a ?? b`` takes ``a``, or where ``a`` was not read, ``b`` (the lines' amounts
standing in for a subtotal); ``abs`` takes a discount off whatever its printed sign.

    >>> eq = parse("/subtotal - abs(/discounts/*/amount) + /tip? = /total")
    >>> reading = eq.left.evaluate({"subtotal": 10, "discounts": [{"amount": -2}], "tip": None})
    >>> reading.value, reading.fields
    (Decimal('8'), ['/subtotal', '/discounts/0/amount'])
    >>> parse("/a * /b = /c")
    Traceback (most recent call last):
    ...
    schemas.checks.expression.NonLinearError: not linear: '/a' times '/b' multiplies two fields
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeAlias

from schemas.checks.walk import STAR, expand, list_of, stars
from schemas.pointers import resolve, split

__all__ = [
    "Equation",
    "ExpressionError",
    "Linear",
    "NonLinearError",
    "Reading",
    "label",
    "number",
    "parse",
]

_EXACT = decimal.Context(prec=80, traps=[decimal.InvalidOperation, decimal.DivisionByZero])

_TOKEN = re.compile(
    r"\s*(?:(?P<pointer>/(?:[A-Za-z0-9_~]+|\*)(?:/(?:[A-Za-z0-9_~]+|\*))*)"
    r"|(?P<number>\d+(?:\.\d+)?)|(?P<name>[a-z]+)|(?P<op>\?\?|[-+*/=(),?]))"
)


class ExpressionError(ValueError):
    """The expression does not parse; the message says where."""


class NonLinearError(ExpressionError):
    """The expression multiplies or divides by a field: not a linear equation."""


def number(value: Any) -> Decimal | None:
    """A JSON number (or a numeric string) as the decimal it was written as; None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except decimal.InvalidOperation:
            return None
        return parsed if parsed.is_finite() else None
    return None


def label(pointer: str) -> str:
    """A field's name in words: ``/line_items/*/amount`` → ``line items amount``."""
    tokens = [t for t in split(pointer) if t != STAR and not t.isdigit()]
    return " ".join(tokens).replace("_", " ") or pointer


@dataclass
class Reading:
    """One side of an equation on one answer: its value, the words that spell it, the
    fields it read, and what it lacked (then the check is skipped)."""

    value: Decimal = Decimal(0)
    words: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    lacking: list[str] = field(default_factory=list)

    def spelled(self) -> str:
        return " ".join(self.words).removeprefix("+ ") or "0"

    def merge(self, other: Reading) -> None:
        self.value += other.value
        self.words += other.words
        self.fields += other.fields
        self.lacking += other.lacking


@dataclass(frozen=True)
class Field:
    """A field, or with ``*`` every element's field, summed."""

    pointer: str
    optional: bool = False
    absolute: bool = False

    def pointers(self) -> Iterator[str]:
        yield self.pointer

    def read(self, data: Any, coef: Decimal, into: Reading) -> None:
        for at, raw in expand(data, self.pointer):
            value = number(raw)
            if value is None:
                if raw is None and self.optional:
                    continue
                into.fields.append(at)
                into.lacking.append(at[1:] if raw is None else f"{at[1:]} as a number")
                continue
            value = abs(value) if self.absolute else value
            into.fields.append(at)
            signed = coef * value
            into.value += signed
            times = "" if abs(coef) == 1 else f"{abs(coef).normalize():f} x "
            word = label(self.pointer if stars(self.pointer) else at)
            into.words.append(f"{'-' if signed < 0 else '+'} {times}{word} {_show(abs(value))}")

    def stands_in(self, data: Any) -> bool:
        """Read in full, and (with ``*``) a list with at least one element."""
        pairs = expand(data, self.pointer)
        return bool(pairs) and all(number(v) is not None for _, v in pairs)


@dataclass(frozen=True)
class Choice:
    """``a ?? b``: the first field that was read."""

    options: tuple[Field, ...]

    def pointers(self) -> Iterator[str]:
        for option in self.options:
            yield option.pointer

    def read(self, data: Any, coef: Decimal, into: Reading) -> None:
        first, *rest = self.options
        for option in self.options:
            read = all(number(v) is not None for _, v in expand(data, option.pointer))
            if option is first and read:
                option.read(data, coef, into)
                return
            if option is not first and option.stands_in(data):
                option.read(data, coef, into)
                return
        if all(stars(o.pointer) and not expand(data, o.pointer) for o in rest):
            first.read(data, coef, into)  # nothing could stand in: the first is lacking
            return
        into.fields += [first.pointer, *(list_of(o.pointer) for o in rest)]
        into.lacking.append(
            f"{first.pointer[1:]} or every " + " or every ".join(o.pointer[1:] for o in rest)
        )


@dataclass(frozen=True)
class Switch:
    """``when(flag, ...)`` / ``unless(flag, ...)``: terms that count only when a boolean
    field is true (or is not: null counts as false)."""

    flag: str
    counts_when: bool
    body: Linear

    def pointers(self) -> Iterator[str]:
        yield self.flag
        yield from self.body.pointers()

    def read(self, data: Any, coef: Decimal, into: Reading) -> None:
        on = resolve(data, self.flag) is True
        if on:
            into.fields.append(self.flag)
        if on == self.counts_when:
            into.merge(self.body.scaled(coef).evaluate(data))


Atom: TypeAlias = Field | Choice | Switch


def _show(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


@dataclass(frozen=True)
class Linear:
    """Σ coefficient × atom + constant."""

    terms: tuple[tuple[Decimal, Atom], ...] = ()
    constant: Decimal = Decimal(0)

    def scaled(self, k: Decimal) -> Linear:
        return Linear(
            tuple((_EXACT.multiply(c, k), a) for c, a in self.terms),
            _EXACT.multiply(self.constant, k),
        )

    def plus(self, other: Linear) -> Linear:
        return Linear(self.terms + other.terms, self.constant + other.constant)

    def pointers(self) -> Iterator[str]:
        for _, atom in self.terms:
            yield from atom.pointers()

    def evaluate(self, data: Any) -> Reading:
        reading = Reading()
        for coef, atom in self.terms:
            atom.read(data, coef, reading)
        if self.constant:
            reading.value += self.constant
            sign = "-" if self.constant < 0 else "+"
            reading.words.append(f"{sign} {_show(abs(self.constant))}")
        return reading

    def single_field(self) -> str | None:
        """The pointer, if this side is one plain field and nothing else."""
        if self.constant or len(self.terms) != 1:
            return None
        coef, atom = self.terms[0]
        if coef == 1 and isinstance(atom, Field) and not atom.absolute and not stars(atom.pointer):
            return atom.pointer
        return None


@dataclass(frozen=True)
class Equation:
    """``left = right``."""

    left: Linear
    right: Linear

    def pointers(self) -> list[str]:
        return [*self.left.pointers(), *self.right.pointers()]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                raise ExpressionError(f"unexpected character at {pos}: {text[pos : pos + 10]!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind), match.start(kind)))
            pos = match.end()
        self.at = 0

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "", len(self.text))

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        k, v, pos = self.peek()
        if (value is not None and v != value) or (kind is not None and k != kind):
            want = repr(value) if value is not None else f"a {kind}"
            got = repr(v) if v else "the end"
            raise ExpressionError(f"expected {want} at {pos}, found {got}")
        self.at += 1
        return v

    def accept(self, value: str) -> bool:
        if self.peek()[1] == value and self.peek()[0] != "pointer":
            self.at += 1
            return True
        return False

    def equation(self) -> Equation:
        left = self.sum()
        self.take("=")
        right = self.sum()
        if self.peek()[0] != "end":
            _, v, pos = self.peek()
            raise ExpressionError(f"unexpected {v!r} at {pos}")
        return Equation(left, right)

    def sum(self) -> Linear:
        sign = Decimal(-1) if self.accept("-") else Decimal(1)
        if sign == 1:
            self.accept("+")
        total = self.term().scaled(sign)
        while self.peek()[1] in ("+", "-") and self.peek()[0] == "op":
            op = self.take()
            part = self.term()
            total = total.plus(part.scaled(Decimal(-1)) if op == "-" else part)
        return total

    def term(self) -> Linear:
        value = self.factor()
        while self.peek()[1] in ("*", "/") and self.peek()[0] == "op":
            op = self.take()
            other = self.factor()
            if op == "*":
                if value.terms and other.terms:
                    a, b = next(value.pointers(), "?"), next(other.pointers(), "?")
                    raise NonLinearError(f"not linear: {a!r} times {b!r} multiplies two fields")
                if value.terms:
                    value = value.scaled(other.constant)
                else:
                    value = other.scaled(value.constant)
            else:
                if other.terms:
                    raise NonLinearError(
                        f"not linear: division by the field {next(other.pointers())!r}"
                    )
                if other.constant == 0:
                    raise ExpressionError("division by zero")
                value = value.scaled(_EXACT.divide(Decimal(1), other.constant))
        return value

    def factor(self) -> Linear:
        kind, value, pos = self.peek()
        if kind == "number":
            self.take()
            return Linear(constant=Decimal(value))
        if kind == "op" and value == "-":
            self.take()
            return self.factor().scaled(Decimal(-1))
        if kind == "op" and value == "(":
            self.take()
            inner = self.sum()
            self.take(")")
            return inner
        if kind == "name" and value in ("when", "unless"):
            self.take()
            self.take("(")
            flag = self.take(kind="pointer")
            if stars(flag):
                raise ExpressionError(f"the flag of {value}() is one field, not {flag!r}")
            self.take(",")
            body = self.sum()
            self.take(")")
            return Linear(((Decimal(1), Switch(flag, value == "when", body)),))
        if kind == "pointer" or (kind == "name" and value == "abs"):
            options = [self.field()]
            while self.accept("??"):
                options.append(self.field())
            atom: Atom = options[0] if len(options) == 1 else Choice(tuple(options))
            return Linear(((Decimal(1), atom),))
        raise ExpressionError(f"expected a field, a number or '(' at {pos}, found {value!r}")

    def field(self) -> Field:
        absolute = False
        if self.peek() == ("name", "abs", self.peek()[2]):
            self.take()
            self.take("(")
            absolute = True
        kind, value, pos = self.peek()
        if kind != "pointer":
            raise ExpressionError(f"expected a field (a JSON Pointer) at {pos}, found {value!r}")
        self.take()
        if stars(value) > 1:
            raise ExpressionError(f"{value!r} walks more than one list")
        optional = self.accept("?")
        if absolute:
            self.take(")")
        return Field(value, optional=optional, absolute=absolute)


def parse(text: str) -> Equation:
    """The equation ``text`` states; `ExpressionError` (or `NonLinearError`) if it is not a
    linear equation of fields in the grammar above."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an expression is a non-empty string such as '/a + /b = /c'")
    return _Parser(text).equation()
