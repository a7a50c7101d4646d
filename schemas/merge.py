"""Merge rules: how one answer per page becomes one answer for a whole document.

A kind whose documents span pages declares its rule in its own module, next to its model
(``SchemaSpec(merge=...)``); the gateway applies it to the pages that succeeded and knows no
kind by name. A kind without a rule (``scene``, ``passport`` …) returns its pages only.

`FieldMerge` is the one rule the document kinds need, field by field:

* ``concatenate``: lists joined in page order (an invoice's line items, a table's rows);
* ``last``: the value from the last page that has one (totals are printed at the end, and a
  running "carried forward" subtotal on an earlier page must not win);
* every other field: the value from the first page that has one (vendor, numbers, dates and
  a table's header are printed on the first page; a later page that repeats them, or lacks
  them, changes nothing);
* ``repeated_header``: for tables, a list field (``columns``) whose value, when it shows up
  again as a row on a later page, is a header the printer repeated, and is dropped.

A page "has" a value when it is not null and not an empty list. The merged object is built
by the model's own validation, so it is exactly as valid as a single-page answer.

    >>> from schemas.invoice import Invoice
    >>> rule = FieldMerge(concatenate=("line_items",), last=("total",))
    >>> pages = [Invoice(vendor_name="Acme", line_items=[]),
    ...          Invoice(line_items=[], total=12.5)]
    >>> merged = rule(Invoice, pages)
    >>> merged.vendor_name, merged.total
    ('Acme', 12.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["FieldMerge"]

M = TypeVar("M", bound=BaseModel)


def _has(value: Any) -> bool:
    return value is not None and value != []


@dataclass(frozen=True)
class FieldMerge:
    """Lists concatenated, chosen fields from the last page that has them, the rest from the
    first page that has them."""

    concatenate: tuple[str, ...] = ()
    last: tuple[str, ...] = ()
    repeated_header: str | None = None
    """A field whose value, seen again as an element of a concatenated list, is dropped."""

    def describe(self) -> str:
        """One line for ``GET /v1/schemas`` and the docs."""
        parts = []
        if self.concatenate:
            parts.append(f"{', '.join(self.concatenate)} concatenated in page order")
        if self.last:
            parts.append(f"{', '.join(self.last)} from the last page that has them")
        parts.append("every other field from the first page that has it")
        if self.repeated_header:
            parts.append(f"rows repeating {self.repeated_header} on later pages dropped")
        return "; ".join(parts)

    def check(self, model: type[BaseModel]) -> None:
        """Refuse a rule that names fields the model lacks (at import time, via the spec)."""
        fields = model.model_fields
        for name in (*self.concatenate, *self.last, *filter(None, [self.repeated_header])):
            if name not in fields:
                raise ValueError(f"merge rule names {name!r}, not a field of {model.__name__}")
        if set(self.concatenate) & set(self.last):
            raise ValueError("a field cannot be both concatenated and taken from the last page")

    def __call__(self, model: type[M], pages: Sequence[M]) -> M:
        """One ``model`` for the whole document from its pages' answers, in page order."""
        if not pages:
            raise ValueError("nothing to merge: no page has an answer")
        dumps = [page.model_dump() for page in pages]
        merged: dict[str, Any] = {}
        for name in model.model_fields:
            values = [d[name] for d in dumps]
            if name in self.concatenate:
                merged[name] = [item for value in values if value for item in value]
            elif name in self.last:
                merged[name] = next((v for v in reversed(values) if _has(v)), values[-1])
            else:
                merged[name] = next((v for v in values if _has(v)), values[0])
        if self.repeated_header and _has(merged[self.repeated_header]):
            header = merged[self.repeated_header]
            for name in self.concatenate:
                merged[name] = [item for item in merged[name] if item != header]
        return model.model_validate(merged)
