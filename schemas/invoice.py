"""`invoice`: a supplier invoice; parties, numbers, dates, currency, lines and totals.

Amounts are plain JSON numbers (no currency symbols, no thousands separators) so that callers
can sum them; the currency is given once, as an ISO 4217 code.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.checks import CheckResult, arithmetic, dates
from schemas.fields import Amount, CurrencyCode, IsoDate, ShortText, Text
from schemas.line_item import LineItem
from schemas.merge import FieldMerge
from schemas.spec import SchemaSpec

__all__ = ["CHECKS", "SPEC", "Invoice"]


class Invoice(BaseModel):
    """Key fields of an invoice, transcribed from the image."""

    model_config = ConfigDict(extra="forbid")

    vendor_name: ShortText | None = Field(
        default=None, description="Name of the seller issuing the invoice."
    )
    vendor_address: Text | None = Field(
        default=None, description="Seller's address as printed, lines joined with ', '."
    )
    vendor_tax_id: ShortText | None = Field(
        default=None, description="Seller's VAT, GST or tax number as printed."
    )
    customer_name: ShortText | None = Field(
        default=None, description="Name of the billed customer (bill-to)."
    )
    invoice_number: ShortText | None = Field(default=None, description="Invoice number as printed.")
    purchase_order: ShortText | None = Field(
        default=None, description="Customer's purchase order or reference number, if printed."
    )
    invoice_date: IsoDate | None = Field(
        default=None, description="Invoice date as an ISO 8601 date YYYY-MM-DD."
    )
    due_date: IsoDate | None = Field(
        default=None, description="Payment due date as YYYY-MM-DD; null if not printed."
    )
    currency: CurrencyCode | None = Field(
        default=None,
        description="ISO 4217 currency code such as 'EUR' or 'USD', if printed or clear from "
        "the symbol; else null.",
    )
    line_items: list[LineItem] = Field(
        description="Billed lines in printed order; empty if the invoice lists none."
    )
    subtotal: Amount | None = Field(default=None, description="Total before tax, as a number.")
    tax: Amount | None = Field(default=None, description="Total tax (VAT, GST, sales tax).")
    total: Amount | None = Field(default=None, description="Amount due including tax.")


def _total(inv: Invoice) -> CheckResult:
    return arithmetic.total_matches_parts(
        "amounts.total", [("/subtotal", inv.subtotal), ("/tax", inv.tax)], inv.total, inv.currency
    )


CHECKS = (
    *arithmetic.line_checks(),
    _total,
    dates.order_check("dates.due_date", "invoice_date", "due_date"),
)
"""Lines, subtotal and total add up (one minor unit of tolerance); due on or after issue."""

SPEC: SchemaSpec[Invoice] = SchemaSpec(
    name="invoice",
    description="Invoice: vendor, customer, numbers, dates, currency, line items and totals.",
    model=Invoice,
    instructions=(
        "The image shows an invoice: extract the seller, customer, invoice number, dates, "
        "currency, every line item and the totals."
    ),
    num_crops=16,
    max_tokens=1024,
    checks=CHECKS,
    # A long invoice lists its lines over several pages: header on the first, totals on
    # the last (an earlier page's "carried forward" subtotal must not win).
    merge=FieldMerge(concatenate=("line_items",), last=("subtotal", "tax", "total")),
    example=Invoice(
        vendor_name="Acme Tools GmbH",
        vendor_address="Hauptstraße 5, 10115 Berlin, Germany",
        vendor_tax_id="DE123456789",
        customer_name="Example Ltd",
        invoice_number="INV-2024-0042",
        purchase_order="PO-7781",
        invoice_date="2024-03-05",
        due_date="2024-04-04",
        currency="EUR",
        line_items=[
            LineItem(description="Cordless drill", quantity=2, unit_price=89.5, amount=179.0),
            LineItem(description="Drill bit set", quantity=1, unit_price=21.0, amount=21.0),
        ],
        subtotal=200.0,
        tax=38.0,
        total=238.0,
    ),
)
"""The registered spec; the example's figures add up (19% VAT)."""
