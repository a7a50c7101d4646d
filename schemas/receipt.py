"""`receipt`: a till or card receipt; merchant, date and time, lines, tax, total, payment.

Shares `LineItem`, the bill's adjustments and tax lines, and the number conventions with
`invoice`, so one consumer handles both; a receipt adds the tip and the payment method.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.checks import bills
from schemas.fields import Amount, CurrencyCode, IsoDate, ShortText, Text, TimeOfDay
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

__all__ = ["CHECKS", "SPEC", "Receipt"]


class Receipt(BaseModel):
    """Key fields of a purchase receipt, transcribed from the image."""

    model_config = ConfigDict(extra="forbid")

    vendor_name: ShortText | None = Field(default=None, description="Merchant or store name.")
    vendor_address: Text | None = Field(
        default=None, description="Merchant address as printed, lines joined with ', '."
    )
    receipt_number: ShortText | None = Field(
        default=None, description="Receipt, transaction or bill number as printed."
    )
    date: IsoDate | None = Field(
        default=None, description="Purchase date as an ISO 8601 date YYYY-MM-DD."
    )
    time: TimeOfDay | None = Field(
        default=None, description="Purchase time as 24-hour HH:MM or HH:MM:SS."
    )
    currency: CurrencyCode | None = Field(
        default=None,
        description="ISO 4217 currency code such as 'USD', if printed or clear from the symbol.",
    )
    prices_include_tax: bool | None = Field(
        default=None, description="True if the item prices already include the tax."
    )
    line_items: list[LineItem] = Field(
        description="Purchased items in printed order; empty if none are listed."
    )
    subtotal: Amount | None = Field(default=None, description="Sum of the item amounts.")
    discounts: list[Adjustment] = Field(
        default_factory=list,
        max_length=MAX_ADJUSTMENTS,
        description="Discounts on the whole receipt; empty if none.",
    )
    charges: list[Adjustment] = Field(
        default_factory=list,
        max_length=MAX_ADJUSTMENTS,
        description="Service charges, deposits and fees added; empty if none.",
    )
    tax_lines: list[TaxLine] = Field(
        default_factory=list,
        max_length=MAX_TAX_LINES,
        description="One entry per tax rate in the tax summary; empty if none.",
    )
    tax: Amount | None = Field(default=None, description="Total tax, as a number.")
    tip: Amount | None = Field(default=None, description="Tip or gratuity; null if none.")
    rounding: Amount | None = Field(
        default=None, description="Cash rounding as printed; null if none."
    )
    total: Amount | None = Field(default=None, description="Total to pay, as a number.")
    amount_paid: Amount | None = Field(
        default=None, description="Amount paid toward the total (not cash tendered)."
    )
    amount_due: Amount | None = Field(default=None, description="Balance still due, if printed.")
    payment_method: ShortText | None = Field(
        default=None, description="How it was paid as printed, e.g. 'VISA ****1234', 'CASH'."
    )


CHECKS = bills.bill_checks(extra=("tip",))
"""Lines, subtotal, tax lines, total (a missing tip counts as none) and balance add up
exactly; only products round to the minor unit."""

SPEC: SchemaSpec[Receipt] = SchemaSpec(
    name="receipt",
    description="Receipt: merchant, date and time, line items, tax, total and payment method.",
    model=Receipt,
    instructions=(
        "The image shows a purchase receipt: extract the merchant, receipt number, date, "
        "time, currency, every purchased item, the tax lines and the totals."
    ),
    num_crops=16,
    max_tokens=1536,
    checks=CHECKS,
    required=("/vendor_name", "/date", "/total"),
    # Printed values; currency and prices_include_tax are derived, as on an invoice.
    transcribed=(
        "/vendor_name",
        "/vendor_address",
        "/receipt_number",
        "/date",
        "/time",
        *LINE_ITEM_CELLS,
        "/subtotal",
        *ADJUSTMENT_CELLS,
        "/tax",
        "/tip",
        "/rounding",
        "/total",
        "/amount_paid",
        "/amount_due",
        "/payment_method",
    ),
    # A long till roll scanned in parts: totals and the payment are printed at its end.
    merge=FieldMerge(
        concatenate=("line_items", "discounts", "charges", "tax_lines"),
        last=(
            "subtotal",
            "tax",
            "tip",
            "rounding",
            "total",
            "amount_paid",
            "amount_due",
            "payment_method",
        ),
    ),
    example=Receipt(
        vendor_name="Corner Café",
        vendor_address="12 Main St, Springfield",
        receipt_number="000731",
        date="2024-06-01",
        time="08:42",
        currency="USD",
        prices_include_tax=False,
        line_items=[
            LineItem(description="Latte", quantity=2, unit_price=4.25, amount=8.5),
            LineItem(description="Croissant", quantity=1, unit_price=3.0, amount=3.0),
        ],
        subtotal=11.5,
        discounts=[],
        charges=[],
        tax_lines=[TaxLine(rate_percent=8, base=11.5, amount=0.92)],
        tax=0.92,
        tip=2.0,
        rounding=None,
        total=14.42,
        amount_paid=14.42,
        amount_due=0.0,
        payment_method="VISA ****1234",
    ),
)
"""The registered spec; the example's figures add up (8% sales tax, a tip, paid in full)."""
