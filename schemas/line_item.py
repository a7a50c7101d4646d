"""`LineItem`: one billed line, shared by `invoice` and `receipt` so both read alike."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.fields import Amount, ShortText

__all__ = ["LineItem"]


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
    amount: Amount | None = Field(
        default=None, description="Line total as a number without currency symbol."
    )
