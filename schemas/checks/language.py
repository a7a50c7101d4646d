"""Checks as data: the declarative language both built-in and registered schemas use.

A check is a JSON object with a ``name``, a ``type``, a ``scope`` (``"page"`` or
``"document"``, default document) and the fields of its type, as JSON Pointers where a
``*`` walks a list:

- ``sum``: ``items`` add up to ``equals``, exactly (`figures.SumCheck`);
- ``product``: per row, ``factors`` (÷ ``divisor``) rounded to the ``currency``'s minor unit,
  less ``less``, is ``equals`` (`figures.ProductCheck`);
- ``expression``: a linear equation of fields, exact (`expression`; never ``eval``);
- ``identifier``: ``field`` is a valid python-stdnum ``format`` (`identifiers`);
- ``date_order``: the dates of ``fields`` come in that order (`dates.ordered`);
- ``mrz``: ``field`` holds a ``td3`` or ``td1`` zone with valid check digits, and agrees with
  the printed fields that ``compare`` maps zone elements to (`identity`).

`compile_check` vets a declaration and builds the `ScopedCheck` it means; whatever is wrong
raises `CheckSpecError`, naming the check, the field (``param``) and a ``code``, so that a
registration answers 400 and a bad check never reaches a request. A check whose fields were
not read is ``skipped``.

    >>> check = compile_check({"name": "due", "type": "date_order",
    ...                        "fields": ["/issue_date", "/due_date"]})
    >>> check.scope, check({"issue_date": "2024-01-02", "due_date": "2024-01-01"}).status
    ('document', 'fail')
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, get_args

from pydantic import BaseModel

from schemas.checks import identity
from schemas.checks.dates import ordered
from schemas.checks.expression import ExpressionError, NonLinearError, parse
from schemas.checks.figures import ExpressionCheck, ProductCheck, SumCheck
from schemas.checks.identifiers import IdentifierCheck, UnknownFormatError, stdnum_module
from schemas.checks.result import CheckResult, ScopedCheck, failed, passed
from schemas.checks.walk import list_of, stars
from schemas.pointers import resolve, split

__all__ = [
    "CHECK_TYPES",
    "CheckSpecError",
    "DeclaredCheck",
    "compile_check",
    "compile_checks",
]

CHECK_TYPES = ("sum", "product", "expression", "identifier", "date_order", "mrz")
_KEYS: Mapping[str, tuple[set[str], set[str]]] = {
    # type: (required keys, optional keys), besides name, type and scope
    "sum": ({"items", "equals"}, {"currency"}),
    "product": ({"factors", "equals"}, {"divisor", "less", "currency", "inclusive", "per_line"}),
    "expression": ({"expr"}, {"currency", "requires"}),
    "identifier": ({"field", "format"}, set()),
    "date_order": ({"fields"}, set()),
    "mrz": ({"field", "format"}, {"compare"}),
}
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
_MRZ_FORMATS = {"td3": "TD3", "td1": "TD1"}
_ELEMENTS = get_args(identity.Element)


class CheckSpecError(ValueError):
    """A check declaration that cannot run: ``param`` names the place (``checks[2].expr``),
    ``code`` the rule (``unknown_check_type``, ``unknown_identifier_format``,
    ``nonlinear_expression``, ``invalid_expression``, ``invalid_check``)."""

    def __init__(self, message: str, param: str, code: str = "invalid_check") -> None:
        super().__init__(message)
        self.param = param
        self.code = code


@dataclass(frozen=True)
class DeclaredCheck:
    """A compiled check: runs on a model instance or plain JSON."""

    name: str
    run: Any

    def __call__(self, data: Any) -> CheckResult:
        plain = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
        result: CheckResult = self.run(plain)
        return result


class _Vet:
    """Reads one declaration, raising `CheckSpecError` at the first problem."""

    def __init__(self, spec: Any, where: str, fields: Collection[str] | None) -> None:
        self.where = where
        self.fields = fields
        if not isinstance(spec, Mapping):
            raise CheckSpecError(f"{where}: a check is a JSON object", where)
        self.spec = spec
        name = spec.get("name")
        if not isinstance(name, str) or not _NAME.match(name) or len(name) > 64:
            raise CheckSpecError(
                f"{where}: a check needs a name such as 'weights' (lowercase letters, digits, "
                f"'_' and '.', at most 64)",
                f"{where}.name",
            )
        self.name = name
        kind = spec.get("type")
        if kind not in CHECK_TYPES:
            raise CheckSpecError(
                f"check {name!r}: unknown type {kind!r}; one of {', '.join(CHECK_TYPES)}",
                f"{where}.type",
                "unknown_check_type",
            )
        self.kind: str = kind
        needed, optional = _KEYS[kind]
        allowed = needed | optional | {"name", "type", "scope"}
        for key in spec:
            if key not in allowed:
                raise CheckSpecError(
                    f"check {name!r}: {key!r} is not a field of a {kind} check "
                    f"(those are {', '.join(sorted(allowed))})",
                    f"{where}.{key}",
                )
        for key in sorted(needed):
            if key not in spec:
                raise CheckSpecError(f"check {name!r}: a {kind} check needs {key!r}",
                                     f"{where}.{key}")  # fmt: skip
        scope = spec.get("scope", "document")
        if scope not in ("page", "document"):
            raise CheckSpecError(
                f"check {name!r}: scope is 'page' or 'document', not {scope!r}", f"{where}.scope"
            )
        self.scope = scope

    def fail(self, key: str, message: str, code: str = "invalid_check") -> CheckSpecError:
        return CheckSpecError(f"check {self.name!r}: {message}", f"{self.where}.{key}", code)

    def pointer(self, key: str, value: Any = None, *, max_stars: int = 1) -> str:
        value = self.spec.get(key) if value is None else value
        if not isinstance(value, str) or not value.startswith("/"):
            raise self.fail(key, f"{key} must be a JSON Pointer such as '/total', not {value!r}")
        tokens = split(value)
        if stars(value) > max_stars:
            what = "may not walk a list" if max_stars == 0 else "walks more than one list"
            raise self.fail(key, f"{value!r} {what} ('*')")
        if any(t == "" for t in tokens):
            raise self.fail(key, f"{value!r} has an empty token")
        if self.fields is not None and tokens[0] not in self.fields:
            raise self.fail(key, f"{value!r} is not a field of the schema")
        return value

    def optional_pointer(self, key: str, *, max_stars: int = 1) -> str | None:
        return self.pointer(key, max_stars=max_stars) if key in self.spec else None

    def pointers(self, key: str, least: int) -> list[str]:
        value = self.spec.get(key)
        if not isinstance(value, list) or len(value) < least:
            raise self.fail(key, f"{key} must be a list of at least {least} JSON Pointers")
        return [self.pointer(f"{key}[{i}]", p) for i, p in enumerate(value)]


def _sum(v: _Vet) -> Any:
    items = v.pointer("items")
    if not stars(items):
        raise v.fail("items", f"{items!r} must walk a list, e.g. '/lines/*/amount'")
    return SumCheck(v.name, items, v.pointer("equals", max_stars=0),
                    v.optional_pointer("currency", max_stars=0))  # fmt: skip


def _product(v: _Vet) -> Any:
    factors = v.pointers("factors", 2)
    equals = v.pointer("equals")
    less = v.optional_pointer("less")
    walked = {list_of(p) for p in (*factors, equals, *([less] if less else [])) if stars(p)}
    if len(walked) > 1:
        raise v.fail("factors", f"the factors and the result walk different lists: {walked}")
    if walked and not stars(equals):
        raise v.fail("equals", f"{equals!r} must walk the same list as the factors")
    divisor = v.spec.get("divisor", 1)
    try:
        div = Decimal(str(divisor)) if not isinstance(divisor, bool) else Decimal(0)
    except InvalidOperation:
        div = Decimal(0)
    if not div.is_finite() or div <= 0:
        raise v.fail("divisor", f"divisor must be a positive number, not {divisor!r}")
    inclusive = v.optional_pointer("inclusive", max_stars=0)
    per_line = v.optional_pointer("per_line")
    if (inclusive or per_line) and len(factors) != 2:
        raise v.fail("factors", "inclusive and per_line need factors [rate, base]")
    if per_line and not stars(per_line):
        raise v.fail("per_line", f"{per_line!r} must walk a list")
    return ProductCheck(
        v.name,
        tuple(factors),
        equals,
        divisor=div,
        less=less,
        currency=v.optional_pointer("currency", max_stars=0),
        inclusive=inclusive,
        per_line=per_line,
    )


def _expression(v: _Vet) -> Any:
    try:
        equation = parse(v.spec["expr"])
    except NonLinearError as exc:
        raise v.fail("expr", str(exc), "nonlinear_expression") from None
    except ExpressionError as exc:
        raise v.fail("expr", str(exc), "invalid_expression") from None
    for p in equation.pointers():
        v.pointer("expr", p)
    requires = v.spec.get("requires", [])
    if not isinstance(requires, list):
        raise v.fail("requires", "requires must be a list of JSON Pointers")
    needed = tuple(v.pointer(f"requires[{i}]", p, max_stars=0) for i, p in enumerate(requires))
    return ExpressionCheck(v.name, equation, v.optional_pointer("currency", max_stars=0), needed)


def _identifier(v: _Vet) -> Any:
    field = v.pointer("field")
    try:
        stdnum_module(v.spec["format"])
    except UnknownFormatError as exc:
        raise v.fail("format", str(exc), "unknown_identifier_format") from None
    return IdentifierCheck(v.name, field, v.spec["format"])


def _date_order(v: _Vet) -> Any:
    pointers = [
        v.pointer(f"fields[{i}]", p, max_stars=0) for i, p in enumerate(v.pointers("fields", 2))
    ]
    name = v.name

    def check(data: Any) -> CheckResult:
        found = [(p, resolve(data, p)) for p in pointers]
        return ordered(name, [(p, x if isinstance(x, str) else None) for p, x in found])

    return check


def _mrz(v: _Vet) -> Any:
    lines = v.pointer("field", max_stars=0)
    kind = _MRZ_FORMATS.get(v.spec["format"])
    if kind is None:
        raise v.fail("format", f"format is 'td3' or 'td1', not {v.spec['format']!r}")
    compare = v.spec.get("compare", {})
    if not isinstance(compare, Mapping):
        raise v.fail("compare", "compare maps zone elements to JSON Pointers")
    printed: dict[str, str] = {}
    for element, pointer in compare.items():
        if element not in _ELEMENTS:
            raise v.fail(f"compare.{element}", f"{element!r} is not one of {_ELEMENTS}")
        p = v.pointer(f"compare.{element}", pointer, max_stars=0)
        if len(split(p)) != 1:
            raise v.fail(f"compare.{element}", f"{p!r} must be a top-level field")
        printed[element] = split(p)[0]
    if len(split(lines)) != 1:
        raise v.fail("field", f"{lines!r} must be a top-level field")
    binding = identity.MrzBinding(kind, printed, lines=split(lines)[0])  # type: ignore[arg-type]
    parts = identity.mrz_checks(binding)
    name = v.name

    def check(data: Any) -> CheckResult:
        view = _Attrs(data)
        results = [part(view) for part in parts]
        fields = list(dict.fromkeys(f for r in results for f in r.fields))
        if results[0].status != "pass":
            return results[0].model_copy(update={"name": name})
        bad = [r for r in results if r.status == "fail"]
        if bad:
            return failed(name, [f for r in bad for f in r.fields],
                          "; ".join(r.message for r in bad))  # fmt: skip
        done = [r for r in results if r.status == "pass"]
        return passed(name, fields, f"a valid {kind} zone; {len(done) - 1} check(s) agree")

    return check


class _Attrs:
    """Plain JSON seen as attributes (the identity checks read ``data.mrz_lines``)."""

    def __init__(self, data: Any) -> None:
        self._data = data if isinstance(data, dict) else {}

    def __getattr__(self, attr: str) -> Any:
        return self._data.get(attr)


_BUILD = {
    "sum": _sum,
    "product": _product,
    "expression": _expression,
    "identifier": _identifier,
    "date_order": _date_order,
    "mrz": _mrz,
}
assert set(_BUILD) == set(CHECK_TYPES)


def compile_check(
    spec: Any, *, fields: Collection[str] | None = None, prefix: str = "", where: str = "check"
) -> ScopedCheck:
    """The check ``spec`` declares, named ``prefix + name``; ``fields``: the schema's
    top-level fields, which every pointer must start with (None: not checked)."""
    vet = _Vet(spec, where, fields)
    run = _BUILD[vet.kind](vet)
    name = prefix + vet.name
    if getattr(run, "name", None) != name:  # a prefix, or a plain function
        run = _renamed(run, name)
    return ScopedCheck(DeclaredCheck(name, run), vet.scope)


def _renamed(run: Any, name: str) -> Any:
    def check(data: Any) -> CheckResult:
        result: CheckResult = run(data)
        return result if result.name == name else result.model_copy(update={"name": name})

    return check


def compile_checks(
    specs: Any, *, fields: Collection[str] | None = None, prefix: str = "", where: str = "checks"
) -> tuple[ScopedCheck, ...]:
    """Every check of a list of declarations; names must not repeat."""
    if not isinstance(specs, Sequence) or isinstance(specs, str):
        raise CheckSpecError(f"{where} must be a list of checks", where)
    compiled: list[ScopedCheck] = []
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        check = compile_check(spec, fields=fields, prefix=prefix, where=f"{where}[{i}]")
        name = check.check.name  # type: ignore[attr-defined]
        if name in seen:
            raise CheckSpecError(f"two checks are named {name!r}", f"{where}[{i}].name")
        seen.add(name)
        compiled.append(check)
    return tuple(compiled)
