"""The check language: every check type passes a good object, fails each single-field
corruption that must fail it, is skipped when a field is missing, and refuses a malformed
declaration naming the check and the field."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from schemas.checks.expression import ExpressionError, NonLinearError, parse
from schemas.checks.language import CheckSpecError, compile_check, compile_checks
from schemas.pointers import split

GOOD: dict[str, Any] = {
    "currency": "EUR",
    "iban": "DE89 3704 0044 0532 0130 00",
    "imo": "IMO 9074729",
    "issue_date": "2024-03-01",
    "ship_date": "2024-03-04",
    "arrival_date": "2024-03-20",
    "items": [
        {"weight": 1200.3, "packages": 3, "unit_weight": 400.1, "rate": 19, "net": 100.0},
        {"weight": 800.25, "packages": 1, "unit_weight": 800.25, "rate": 5, "net": 0.5},
    ],
    "total_weight": 2000.55,
    "freight": 300.0,
    "insurance": 12.5,
    "surcharge": None,
    "discount": -10.0,
    "total": 302.5,
    "inclusive": False,
    "mrz_lines": [
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
    ],
    "surname": "ERIKSSON",
    "passport_number": "L898902C3",
}

CHECKS: dict[str, dict[str, Any]] = {
    "sum": {"type": "sum", "items": "/items/*/weight", "equals": "/total_weight"},
    "product": {
        "type": "product",
        "factors": ["/items/*/packages", "/items/*/unit_weight"],
        "equals": "/items/*/weight",
        "currency": "/currency",
    },
    "percent": {
        "type": "product",
        "factors": ["/items/*/rate", "/items/*/net"],
        "divisor": 100,
        "equals": "/items/*/tax",
        "currency": "/currency",
    },
    "expression": {
        "type": "expression",
        "expr": "/freight + /insurance + /surcharge? - abs(/discount) = /total",
        "currency": "/currency",
    },
    "identifier": {"type": "identifier", "field": "/iban", "format": "iban"},
    "date_order": {
        "type": "date_order",
        "fields": ["/issue_date", "/ship_date", "/arrival_date"],
    },
    "mrz": {
        "type": "mrz",
        "field": "/mrz_lines",
        "format": "td3",
        "compare": {"surname": "/surname", "document_number": "/passport_number"},
    },
}
# 19% of 100.00 = 19.00; 5% of 0.50 = 0.025, printed 0.03 (half-up) or 0.02 (half-even)
GOOD["items"][0]["tax"] = 19.0
GOOD["items"][1]["tax"] = 0.03

CORRUPTIONS: dict[str, list[tuple[str, Any]]] = {
    "sum": [("/items/0/weight", 1200.4), ("/items/1/weight", 800.24), ("/total_weight", 2000.5)],
    "product": [
        ("/items/0/packages", 4),
        ("/items/0/unit_weight", 400.2),
        ("/items/1/weight", 800.26),
    ],
    "percent": [("/items/0/rate", 20), ("/items/0/net", 101.0), ("/items/1/tax", 0.05)],
    "expression": [
        ("/freight", 300.01),
        ("/insurance", 12.0),
        ("/surcharge", 1.0),
        ("/discount", -10.01),
        ("/total", 302.51),
    ],
    "identifier": [("/iban", "DE89 3704 0044 0532 0130 01")],
    "date_order": [
        ("/issue_date", "2024-03-05"),
        ("/arrival_date", "2024-03-03"),
        ("/ship_date", "2024-02-30"),
    ],  # fmt: skip
    "mrz": [
        ("/mrz_lines/1", "L898902C46UTO7408122F1204159ZE184226B<<<<<10"),
        ("/surname", "ERIKSEN"),
        ("/passport_number", "L898902C4"),
    ],
}
NEEDED: dict[str, str] = {
    "sum": "/total_weight",
    "product": "/items",
    "percent": "/items",
    "expression": "/freight",
    "identifier": "/iban",
    "date_order": "/ship_date",
    "mrz": "/mrz_lines",
}


def changed(pointer: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    *path, last = split(pointer)
    node: Any = data
    for token in path:
        node = node[int(token)] if isinstance(node, list) else node[token]
    node[int(last) if isinstance(node, list) else last] = value
    return data


def run(kind: str, data: dict[str, Any]) -> Any:
    return compile_check({"name": kind, **CHECKS[kind]})(data)


@pytest.mark.parametrize("kind", list(CHECKS))
def test_a_good_object_passes(kind: str) -> None:
    result = run(kind, GOOD)
    assert result.status == "pass", result.message
    assert result.name == kind and result.fields


@pytest.mark.parametrize(
    ("kind", "pointer", "value"),
    [(kind, p, v) for kind, cases in CORRUPTIONS.items() for p, v in cases],
)
def test_each_single_field_corruption_fails(kind: str, pointer: str, value: Any) -> None:
    result = run(kind, changed(pointer, value))
    assert result.status == "fail", result.message
    assert result.message


@pytest.mark.parametrize("kind", list(CHECKS))
def test_a_missing_field_skips(kind: str) -> None:
    pointer = NEEDED[kind]
    data = changed(pointer, [] if pointer == "/items" else None)
    if kind == "date_order":  # three dates: two left still compare; with one left, skipped
        data = changed("/ship_date", None)
        data["arrival_date"] = None
    assert run(kind, data).status == "skipped"


def test_the_discount_enters_whatever_its_printed_sign() -> None:
    assert run("expression", changed("/discount", 10.0)).status == "pass"


def test_a_product_rounds_to_the_minor_unit_half_up_or_half_even_only() -> None:
    assert run("percent", changed("/items/1/tax", 0.02)).status == "pass"  # half-even
    yen = changed("/currency", "JPY")
    yen["items"][1]["tax"] = 0.0  # 0.025 yen rounds to 0
    yen["items"][0]["tax"] = 19.0
    assert run("percent", yen).status == "pass"


def test_a_row_lacking_a_factor_is_left_out_and_no_full_row_skips() -> None:
    data = changed("/items/0/packages", None)
    assert run("product", data).status == "pass"
    data["items"][1]["weight"] = None
    assert run("product", data).status == "skipped"


def test_a_fallback_stands_in_for_a_field_not_read() -> None:
    check = compile_check(
        {"name": "t", "type": "expression", "expr": "(/sub ?? /lines/*/a) + /tax = /total"}
    )
    assert check({"sub": None, "lines": [{"a": 1}, {"a": 2}], "tax": 1, "total": 4}).ok
    assert check({"sub": None, "lines": [{"a": 1}, {"a": 2}], "tax": 1, "total": 5}).status == (
        "fail"
    )
    assert check({"sub": None, "lines": [], "tax": 1, "total": 4}).status == "skipped"
    assert check({"sub": None, "lines": [{"a": None}], "tax": 1, "total": 4}).status == "skipped"


def test_when_and_unless_count_terms_by_a_boolean_field() -> None:
    check = compile_check(
        {"name": "t", "type": "expression", "expr": "/net + unless(/incl, /tax) = /total"}
    )
    assert check({"net": 10, "tax": 2, "total": 12, "incl": None}).ok
    assert check({"net": 10, "tax": 2, "total": 10, "incl": True}).ok
    assert not check({"net": 10, "tax": 2, "total": 10, "incl": False}).ok


def test_an_identifier_accepts_any_stdnum_format() -> None:
    cases = {
        "bic": ("DEUTDEFF", "DEU1DEFF"),
        "isin": ("US0378331005", "US0378331006"),
        "ean": ("4006381333931", "4006381333932"),
        "luhn": ("79927398713", "79927398714"),
        "imo": ("IMO 9074729", "IMO 9074728"),
        "eu.vat": ("DE136695976", "DE136695977"),
        "de.vat": ("DE136695976", "DE136695977"),
        "us.ein": ("04-2103594", "00-2103594"),
        "cn.ric": ("11010519491231002X", "110105194912310021"),
    }
    for fmt, (good, bad) in cases.items():
        check = compile_check({"name": "id", "type": "identifier", "field": "/x", "format": fmt})
        assert check({"x": good}).status == "pass", fmt
        assert check({"x": bad}).status == "fail", fmt


def test_scope_defaults_to_document_and_names_may_be_prefixed() -> None:
    check = compile_check({"name": "w", **CHECKS["sum"]}, prefix="custom.")
    assert check.scope == "document" and check(GOOD).name == "custom.w"
    assert compile_check({"name": "w", "scope": "page", **CHECKS["sum"]}).scope == "page"


@pytest.mark.parametrize(
    ("spec", "param", "code"),
    [
        ({"name": "x", "type": "ratio"}, "check.type", "unknown_check_type"),
        (
            {"name": "x", "type": "identifier", "field": "/a", "format": "nosuch"},
            "check.format",
            "unknown_identifier_format",
        ),  # fmt: skip
        (
            {"name": "x", "type": "identifier", "field": "/a", "format": "util"},
            "check.format",
            "unknown_identifier_format",
        ),  # fmt: skip
        (
            {"name": "x", "type": "expression", "expr": "/a * /b = /c"},
            "check.expr",
            "nonlinear_expression",
        ),  # fmt: skip
        (
            {"name": "x", "type": "expression", "expr": "/a / /b = /c"},
            "check.expr",
            "nonlinear_expression",
        ),  # fmt: skip
        (
            {"name": "x", "type": "expression", "expr": "/a + = /c"},
            "check.expr",
            "invalid_expression",
        ),  # fmt: skip
        (
            {"name": "x", "type": "expression", "expr": "__import__('os')"},
            "check.expr",
            "invalid_expression",
        ),  # fmt: skip
        ({"name": "x", "type": "sum", "items": "/a"}, "check.equals", "invalid_check"),
        (
            {"name": "x", "type": "sum", "items": "/a", "equals": "/b"},
            "check.items",
            "invalid_check",
        ),  # fmt: skip
        (
            {"name": "x", "type": "sum", "items": "/a/*/b", "equals": "/c", "extra": 1},
            "check.extra",
            "invalid_check",
        ),  # fmt: skip
        (
            {"name": "x", "type": "sum", "items": "total", "equals": "/c"},
            "check.items",
            "invalid_check",
        ),  # fmt: skip
        ({"name": "X y", "type": "sum"}, "check.name", "invalid_check"),
        ({"name": "x", "type": "date_order", "fields": ["/a"]}, "check.fields", "invalid_check"),
        (
            {"name": "x", "type": "mrz", "field": "/m", "format": "td2"},
            "check.format",
            "invalid_check",
        ),  # fmt: skip
        (
            {"name": "x", "type": "mrz", "field": "/m", "format": "td3", "compare": {"age": "/a"}},
            "check.compare.age",
            "invalid_check",
        ),  # fmt: skip
        (
            {"name": "x", "type": "product", "factors": ["/a/*/b", "/c/*/d"], "equals": "/a/*/e"},
            "check.factors",
            "invalid_check",
        ),  # fmt: skip
        (
            {"name": "x", "type": "date_order", "fields": ["/a", "/b"], "scope": "line"},
            "check.scope",
            "invalid_check",
        ),  # fmt: skip
    ],
)
def test_a_malformed_check_is_refused_naming_the_field(
    spec: dict[str, Any], param: str, code: str
) -> None:
    with pytest.raises(CheckSpecError) as caught:
        compile_check(spec)
    assert (caught.value.param, caught.value.code) == (param, code)
    assert "'x'" in str(caught.value) or spec["name"] != "x"


def test_pointers_must_name_fields_of_the_schema() -> None:
    with pytest.raises(CheckSpecError) as caught:
        compile_checks([{"name": "x", **CHECKS["sum"]}], fields={"items"})
    assert caught.value.param == "checks[0].equals"


def test_check_names_do_not_repeat() -> None:
    with pytest.raises(CheckSpecError) as caught:
        compile_checks([{"name": "x", **CHECKS["sum"]}, {"name": "x", **CHECKS["identifier"]}])
    assert caught.value.param == "checks[1].name"


def test_the_grammar_is_linear_and_exact() -> None:
    eq = parse("2 * /a - (/b - /c) / 4 + 1 = /d")
    reading = eq.left.evaluate({"a": 0.1, "b": 0.3, "c": 0.1})
    assert reading.value == Decimal("1.15")  # 0.2 - 0.05 + 1, no float noise
    with pytest.raises(NonLinearError):
        parse("(/a + 1) * (/b + 1) = /c")
    for bad in ("/a = ", "/a == /b", "/a = /b = /c", "abs(2) = /a", "when(/a/*/b, /c) = /d"):
        with pytest.raises(ExpressionError):
            parse(bad)
