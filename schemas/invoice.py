"""`invoice`: a supplier invoice; parties, numbers, dates, currency, lines and totals.

Amounts are plain JSON numbers (no currency symbols, no thousands separators) so that callers
can sum them; the currency is given once, as an ISO 4217 code. Besides subtotal, tax and
total, an invoice carries what a real one prints and its total depends on: a discount per
line, discounts and charges on the whole bill, one tax line per rate, cash rounding, the
amount paid and the amount due, and whether the prices include tax. `schemas.checks.bills`
ties them together exactly; ``tax`` is the sum of the tax lines.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.checks import Check, ScopedCheck, bills
from schemas.checks.language import compile_check
from schemas.fields import Amount, CurrencyCode, IsoDate, ShortText, Text
from schemas.line_item import (
    ADJUSTMENT_CELLS,
    LINE_ITEM_CELLS,
    MAX_ADJUSTMENTS,
    MAX_TAX_LINES,
    Adjustment,
    LineItem,
    TaxLine,
)
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
    prices_include_tax: bool | None = Field(
        default=None, description="True if the line prices already include the tax."
    )
    line_items: list[LineItem] = Field(
        description="Billed lines in printed order; empty if the invoice lists none."
    )
    subtotal: Amount | None = Field(default=None, description="Sum of the line amounts.")
    discounts: list[Adjustment] = Field(
        default_factory=list,
        max_length=MAX_ADJUSTMENTS,
        description="Discounts on the whole invoice; empty if none.",
    )
    charges: list[Adjustment] = Field(
        default_factory=list,
        max_length=MAX_ADJUSTMENTS,
        description="Shipping, fees and other charges added; empty if none.",
    )
    tax_lines: list[TaxLine] = Field(
        default_factory=list,
        max_length=MAX_TAX_LINES,
        description="One entry per tax rate in the tax summary; empty if none.",
    )
    tax: Amount | None = Field(default=None, description="Total tax (VAT, GST, sales tax).")
    rounding: Amount | None = Field(
        default=None, description="Rounding adjustment as printed; null if none."
    )
    total: Amount | None = Field(default=None, description="Invoice total including tax.")
    amount_paid: Amount | None = Field(default=None, description="Amount already paid, if printed.")
    amount_due: Amount | None = Field(default=None, description="Amount still to pay, if printed.")


CHECKS: tuple[ScopedCheck | Check, ...] = (
    *bills.bill_checks(),
    compile_check(
        {
            "name": "dates.due_date",
            "type": "date_order",
            "scope": "page",
            "fields": ["/invoice_date", "/due_date"],
        }
    ),
)
"""Lines, subtotal, tax lines, total and amount due add up exactly (only products round to
the minor unit); due on or after issue."""

SPEC: SchemaSpec[Invoice] = SchemaSpec(
    name="invoice",
    description="Invoice: vendor, customer, numbers, dates, currency, line items and totals.",
    model=Invoice,
    instructions=(
        "The image shows an invoice: extract the seller, customer, invoice number, dates, "
        "currency, every line item, the discounts, charges and tax lines, and the totals."
    ),
    num_crops=16,
    max_tokens=1536,
    checks=CHECKS,
    required=("/invoice_number", "/invoice_date", "/total"),
    # Printed values; currency and prices_include_tax are derived (a code is often
    # inferred from a symbol glued to an amount, a boolean is never printed as such).
    transcribed=(
        "/vendor_name",
        "/vendor_address",
        "/vendor_tax_id",
        "/customer_name",
        "/invoice_number",
        "/purchase_order",
        "/invoice_date",
        "/due_date",
        *LINE_ITEM_CELLS,
        "/subtotal",
        *ADJUSTMENT_CELLS,
        "/tax",
        "/rounding",
        "/total",
        "/amount_paid",
        "/amount_due",
    ),
    # A long invoice lists its lines over several pages: header on the first, totals on
    # the last (an earlier page's "carried forward" subtotal must not win).
    merge=FieldMerge(
        concatenate=("line_items", "discounts", "charges", "tax_lines"),
        last=("subtotal", "tax", "rounding", "total", "amount_paid", "amount_due"),
    ),
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
        prices_include_tax=False,
        line_items=[
            LineItem(
                description="Cordless drill",
                quantity=2,
                unit_price=89.5,
                discount=10.0,
                amount=169.0,
            ),
            LineItem(description="Drill bit set", quantity=1, unit_price=21.0, amount=21.0),
            LineItem(description="Workshop manual", quantity=3, unit_price=8.3, amount=24.9),
        ],
        subtotal=214.9,
        discounts=[],
        charges=[Adjustment(description="Shipping", amount=4.9)],
        tax_lines=[
            TaxLine(rate_percent=19, base=194.9, amount=37.03),
            TaxLine(rate_percent=7, base=24.9, amount=1.74),
        ],
        tax=38.77,
        rounding=None,
        total=258.57,
        amount_paid=100.0,
        amount_due=158.57,
    ),
)
"""The registered spec; the example's figures add up: tools and shipping at 19% VAT, a book
at 7%, a line discount, and a part payment."""
