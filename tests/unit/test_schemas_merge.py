"""Merge rules: pages of one document become one answer, as each kind declares."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

import schemas
from schemas import Invoice, LineItem, Receipt, Table
from schemas.merge import FieldMerge


def item(name: str, amount: float) -> LineItem:
    return LineItem(description=name, quantity=1, unit_price=amount, amount=amount)


def test_invoice_pages_concatenate_lines_header_first_totals_last() -> None:
    rule = schemas.get("invoice").merge
    assert rule is not None
    pages = [
        Invoice(
            vendor_name="Acme",
            invoice_number="INV-1",
            currency="EUR",
            line_items=[item("drill", 179.0)],
            subtotal=179.0,
        ),  # fmt: skip
        Invoice(vendor_name="Acme Tools (continued)", line_items=[item("bits", 21.0)]),
        Invoice(line_items=[], subtotal=200.0, tax=38.0, total=238.0),
    ]
    merged = rule(Invoice, pages)
    assert [i.description for i in merged.line_items] == ["drill", "bits"]
    assert (merged.vendor_name, merged.invoice_number, merged.currency) == ("Acme", "INV-1", "EUR")
    # the first page's "carried forward" subtotal does not win over the last page's
    assert (merged.subtotal, merged.tax, merged.total) == (200.0, 38.0, 238.0)


def test_a_header_field_missing_on_page_one_comes_from_the_first_page_that_has_it() -> None:
    rule = schemas.get("invoice").merge
    assert rule is not None
    merged = rule(Invoice, [Invoice(line_items=[]), Invoice(due_date="2024-04-04", line_items=[])])
    assert merged.due_date == "2024-04-04"


def test_totals_stay_from_an_earlier_page_when_the_last_has_none() -> None:
    rule = schemas.get("receipt").merge
    assert rule is not None
    pages = [Receipt(line_items=[item("latte", 4.25)], total=4.25, payment_method="CASH"),
             Receipt(line_items=[])]  # fmt: skip
    merged = rule(Receipt, pages)
    assert (merged.total, merged.payment_method) == (4.25, "CASH")


def test_table_rows_run_on_under_one_header_and_repeated_headers_drop() -> None:
    rule = schemas.get("table").merge
    assert rule is not None
    pages = [
        Table(title="Revenue", columns=["Region", "Q1"], rows=[["North", "12.5"]]),
        Table(title=None, columns=["Region", "Q1"], rows=[["Region", "Q1"], ["South", "9.8"]]),
        Table(title=None, columns=[], rows=[["East", "4.0"]]),
    ]
    merged = rule(Table, pages)
    assert merged.title == "Revenue" and merged.columns == ["Region", "Q1"]
    assert merged.rows == [["North", "12.5"], ["South", "9.8"], ["East", "4.0"]]
    assert merged.to_markdown().count("\n") == 6


def test_one_page_merges_to_itself() -> None:
    spec = schemas.get("invoice")
    assert spec.merge is not None
    assert spec.merge(Invoice, [spec.example]) == spec.example


@pytest.mark.parametrize("name", ["invoice", "receipt", "table"])
def test_document_kinds_declare_a_rule_that_describes_itself(name: str) -> None:
    rule = schemas.get(name).merge
    assert rule is not None and "page" in rule.describe()


@pytest.mark.parametrize("name", ["scene", "passport", "people_count", "slide_deck"])
def test_kinds_that_do_not_span_pages_declare_none(name: str) -> None:
    assert schemas.get(name).merge is None


def test_a_rule_naming_a_missing_field_fails_at_registration() -> None:
    spec = schemas.get("invoice")
    with pytest.raises(ValueError, match="'items', not a field of Invoice"):
        type(spec)(**{**spec.__dict__, "merge": FieldMerge(concatenate=("items",))})


def test_a_deck_asked_together_cannot_also_merge() -> None:
    spec = schemas.get("slide_deck")
    assert spec.pages == "together" and spec.num_crops == 4
    with pytest.raises(ValueError, match="nothing to merge"):
        type(spec)(**{**spec.__dict__, "merge": FieldMerge()})


def test_merging_no_pages_is_refused() -> None:
    class Empty(BaseModel):
        pass

    with pytest.raises(ValueError, match="no page"):
        FieldMerge()(Empty, [])
