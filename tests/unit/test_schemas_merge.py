"""Merge rules: pages of one document become one answer, as each kind declares, and say
which page each value came from."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

import schemas
from schemas import Invoice, LineItem, Receipt, Table
from schemas.line_item import Adjustment, TaxLine
from schemas.merge import FieldMerge, pages_for


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


# -- the bill's lists and totals ----------------------------------------------------------


def test_bill_lists_concatenate_and_the_closing_figures_come_from_the_last_page() -> None:
    rule = schemas.get("invoice").merge
    assert rule is not None
    pages = [
        Invoice(
            line_items=[item("drill", 179.0)],
            charges=[Adjustment(description="Shipping", amount=4.9)],
            tax_lines=[TaxLine(rate_percent=19, base=179.0, amount=34.01)],
            amount_due=213.01,  # a running balance, superseded by the last page
        ),
        Invoice(
            line_items=[item("manual", 24.9)],
            discounts=[Adjustment(description="Voucher", amount=5.0)],
            tax_lines=[TaxLine(rate_percent=7, base=24.9, amount=1.74)],
            rounding=0.01,
            total=240.0,
            amount_paid=40.0,
            amount_due=200.0,
        ),
    ]
    merged = rule(Invoice, pages)
    assert [t.rate_percent for t in merged.tax_lines] == [19, 7]
    assert [c.description for c in merged.charges] == ["Shipping"]
    assert [d.description for d in merged.discounts] == ["Voucher"]
    assert (merged.rounding, merged.total, merged.amount_paid, merged.amount_due) == (
        0.01, 240.0, 40.0, 200.0
    )  # fmt: skip


# -- provenance ---------------------------------------------------------------------------


def test_provenance_names_the_page_of_every_field_and_list_element() -> None:
    rule = schemas.get("invoice").merge
    assert rule is not None
    pages = [
        (2, Invoice(vendor_name="Acme", line_items=[item("a", 1.0), item("b", 2.0)])),
        (3, Invoice(line_items=[], due_date="2024-04-04")),
        (5, Invoice(line_items=[item("c", 3.0)], subtotal=6.0, total=7.14)),
    ]
    merged, source = rule.merge_with_provenance(Invoice, pages)
    assert merged == rule(Invoice, [page for _, page in pages])
    assert (source["/vendor_name"], source["/due_date"], source["/total"]) == (2, 3, 5)
    assert [source[f"/line_items/{i}"] for i in range(3)] == [2, 2, 5]
    # a field no page has: the first page for header fields, the last for closing ones
    assert (source["/invoice_number"], source["/tax"]) == (2, 5)
    # one entry per top-level field, lists by element
    tops = {p.split("/")[1] for p in source}
    assert tops == set(Invoice.model_fields) - {"discounts", "charges", "tax_lines"}
    assert "/line_items" not in source and "/line_items/3" not in source


def test_pages_for_maps_a_checks_fields_to_the_pages_that_hold_them() -> None:
    source = {"/vendor_name": 1, "/line_items/0": 1, "/line_items/1": 2, "/subtotal": 3}
    assert pages_for(source, ["/line_items/1/amount", "/subtotal"]) == {2, 3}
    assert pages_for(source, ["/line_items"]) == {1, 2}
    assert pages_for(source, ["/line_items/10/amount"]) == set()  # not /line_items/1
    assert pages_for(source, ["/nothing"]) == set() == pages_for(source, [])


def test_a_failed_document_check_points_at_its_pages_only() -> None:
    spec = schemas.get("invoice")
    assert spec.merge is not None
    header = Invoice(vendor_name="Acme", invoice_number="1", line_items=[])
    lines = Invoice(line_items=[item("a", 10.0), item("b", 20.0)])
    totals = Invoice(line_items=[item("c", 5.0)], subtotal=35.01, tax=0.0, total=35.01)
    merged, source = spec.merge.merge_with_provenance(
        Invoice, [(1, header), (2, lines), (3, totals)]
    )
    failed = [r for r in spec.run_checks(merged, scope="document") if r.status == "fail"]
    assert [r.name for r in failed] == ["amounts.subtotal"]
    assert pages_for(source, failed[0].fields) == {2, 3}  # the header page holds none


def test_table_provenance_skips_the_repeated_header() -> None:
    rule = schemas.get("table").merge
    assert rule is not None
    pages = [
        (1, Table(title="T", columns=["a", "b"], rows=[["1", "2"]])),
        (2, Table(columns=["a", "b"], rows=[["a", "b"], ["3", "4"], ["5", "6"]])),
    ]
    merged, source = rule.merge_with_provenance(Table, pages)
    assert merged.rows == [["1", "2"], ["3", "4"], ["5", "6"]]
    assert [source[f"/rows/{i}"] for i in range(3)] == [1, 2, 2]
    assert source["/columns"] == source["/title"] == 1


def test_merging_with_provenance_needs_a_page() -> None:
    with pytest.raises(ValueError, match="no page"):
        FieldMerge().merge_with_provenance(Invoice, [])
