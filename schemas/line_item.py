"""The parts of a bill that `invoice` and `receipt` share, so both read alike.

`LineItem` is one billed line; `Adjustment` a discount or charge on the whole bill
(shipping, a fee, a voucher); `TaxLine` one rate of tax with its base, as a VAT summary
prints it (a German invoice with 7% and 19% VAT has two). The arithmetic that ties them
together is `schemas.checks.bills`. Every list is bounded, so guided decoding always ends.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.fields import Amount, ShortText

__all__ = [
    "ADJUSTMENT_CELLS",
    "LINE_ITEM_CELLS",
    "MAX_ADJUSTMENTS",
    "MAX_TAX_LINES",
    "Adjustment",
    "LineItem",
    "TaxLine",
]

LINE_ITEM_CELLS = tuple(
    f"/line_items/*/{cell}"
    for cell in ("description", "quantity", "unit_price", "discount", "amount")
)
"""The printed cells of a bill's line items (``SchemaSpec.transcribed``)."""
ADJUSTMENT_CELLS = (
    *(
        f"/{name}/*/{cell}"
        for name in ("discounts", "charges")
        for cell in ("description", "amount")
    ),
    *(f"/tax_lines/*/{cell}" for cell in ("rate_percent", "base", "amount")),
)
"""The printed cells of a bill's discounts, charges and tax lines."""

MAX_ADJUSTMENTS = 8
"""Discounts, and charges, per bill: a voucher, a loyalty discount, shipping, a fee ..."""
MAX_TAX_LINES = 8
"""Tax lines per bill: two or three VAT rates, or GST with a provincial tax, fit easily."""


class LineItem(BaseModel):
    """One line of an invoice or receipt, in the order printed."""

    model_config = ConfigDict(extra="forbid")

    description: ShortText = Field(description="Item or service description as printed.")
    quantity: Amount | None = Field(
        default=None, description="Quantity as a number; null if not printed."
    )
    unit_price: Amount | None = Field(
        default=None,
        description="Price per unit as a number without currency symbol; null if not printed.",
    )
    discount: Amount | None = Field(
        default=None,
        description="Discount taken off this line, as an amount; null if none.",
    )
    amount: Amount | None = Field(
        default=None, description="Line total after its discount, as a number."
    )


class Adjustment(BaseModel):
    """A discount or a charge on the whole bill, as printed below the lines."""

    model_config = ConfigDict(extra="forbid")

    description: ShortText | None = Field(
        default=None, description="What it is as printed, e.g. 'Shipping', 'Voucher'."
    )
    amount: Amount | None = Field(default=None, description="The amount, as a positive number.")


class TaxLine(BaseModel):
    """One tax rate as the tax summary prints it."""

    model_config = ConfigDict(extra="forbid")

    rate_percent: float | None = Field(
        default=None, ge=0, le=100, description="The rate in percent, e.g. 19 for 19%."
    )
    base: Amount | None = Field(
        default=None, description="Net amount taxed at this rate; null if not printed."
    )
    amount: Amount | None = Field(default=None, description="Tax at this rate.")
