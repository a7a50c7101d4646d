"""`receipt`: a till or card receipt; merchant, date and time, lines, tax, total, payment.

Shares `LineItem` and the number conventions with `invoice`, so one consumer handles both.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.checks import CheckResult, arithmetic
from schemas.fields import Amount, CurrencyCode, IsoDate, ShortText, Text, TimeOfDay
from schemas.line_item import LineItem
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
    line_items: list[LineItem] = Field(
        description="Purchased items in printed order; empty if none are listed."
    )
    subtotal: Amount | None = Field(default=None, description="Total before tax, as a number.")
    tax: Amount | None = Field(default=None, description="Total tax, as a number.")
    tip: Amount | None = Field(default=None, description="Tip or gratuity; null if none.")
    total: Amount | None = Field(default=None, description="Total paid, as a number.")
    payment_method: ShortText | None = Field(
        default=None, description="How it was paid as printed, e.g. 'VISA ****1234', 'CASH'."
    )


def _total(rec: Receipt) -> CheckResult:
    parts = [("/subtotal", rec.subtotal), ("/tax", rec.tax), ("/tip", rec.tip)]
    return arithmetic.total_matches_parts(
        "amounts.total", parts, rec.total, rec.currency, optional=["/tip"]
    )


CHECKS = (*arithmetic.line_checks(), _total)
"""Lines, subtotal and total (a missing tip counts as none) add up, to one minor unit."""

SPEC: SchemaSpec[Receipt] = SchemaSpec(
    name="receipt",
    description="Receipt: merchant, date and time, line items, tax, total and payment method.",
    model=Receipt,
    instructions=(
        "The image shows a purchase receipt: extract the merchant, receipt number, date, "
        "time, currency, every purchased item and the totals."
    ),
    num_crops=16,
    max_tokens=1024,
    checks=CHECKS,
    # A long till roll scanned in parts: totals and the payment are printed at its end.
    merge=FieldMerge(
        concatenate=("line_items",), last=("subtotal", "tax", "tip", "total", "payment_method")
    ),
    example=Receipt(
        vendor_name="Corner Café",
        vendor_address="12 Main St, Springfield",
        receipt_number="000731",
        date="2024-06-01",
        time="08:42",
        currency="USD",
        line_items=[
            LineItem(description="Latte", quantity=2, unit_price=4.25, amount=8.5),
            LineItem(description="Croissant", quantity=1, unit_price=3.0, amount=3.0),
        ],
        subtotal=11.5,
        tax=0.92,
        tip=2.0,
        total=14.42,
        payment_method="VISA ****1234",
    ),
)
"""The registered spec; the example's figures add up."""
