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

`FieldMerge.merge_with_provenance` also says where each value came from (`Provenance`), so
that a failed document check can send a repair pass to the pages that hold its fields, and
no other (`pages_for`):

    >>> merged, source = rule.merge_with_provenance(Invoice, [(3, pages[0]), (4, pages[1])])
    >>> source["/vendor_name"], source["/total"]
    (3, 4)
    >>> pages_for(source, ["/total", "/line_items"])
    {4}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from pydantic import BaseModel

from schemas.pointers import overlaps

__all__ = ["FieldMerge", "Provenance", "pages_for"]

M = TypeVar("M", bound=BaseModel)

Provenance: TypeAlias = dict[str, int]
"""JSON Pointer → the page number it came from: one entry per top-level field of the merged
data (``/total``), except the concatenated lists, which have one per element instead
(``/line_items/3``). A field no page has comes from the page a value would have been taken
from: the first page, or the last for a ``last`` field."""


def pages_for(provenance: Provenance, pointers: Iterable[str]) -> set[int]:
    """The pages that hold the fields ``pointers`` name (a check's ``fields``, e.g.
    ``/line_items/2/amount`` or ``/subtotal``); a pointer to a whole concatenated list
    (``/line_items``) names every page that gave it an element. Unknown pointers add none."""
    wanted = list(pointers)
    return {page for key, page in provenance.items() if any(overlaps(key, p) for p in wanted)}


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
        if self.repeated_header in self.concatenate:
            raise ValueError("a repeated header is one page's field, not a concatenated list")

    def __call__(self, model: type[M], pages: Sequence[M]) -> M:
        """One ``model`` for the whole document from its pages' answers, in page order."""
        merged, _ = self.merge_with_provenance(model, list(enumerate(pages, start=1)))
        return merged

    def merge_with_provenance(
        self, model: type[M], pages: Sequence[tuple[int, M]]
    ) -> tuple[M, Provenance]:
        """Like calling the rule, with each page given as ``(page_number, answer)`` in page
        order; also returns where each value came from (`Provenance`)."""
        if not pages:
            raise ValueError("nothing to merge: no page has an answer")
        dumps = [(number, page.model_dump()) for number, page in pages]
        picked: dict[str, tuple[int, Any]] = {}
        lists: dict[str, list[tuple[int, Any]]] = {}
        for name in model.model_fields:
            values = [(number, d[name]) for number, d in dumps]
            if name in self.concatenate:
                lists[name] = [(n, item) for n, value in values if value for item in value]
            else:
                ordered = list(reversed(values)) if name in self.last else values
                picked[name] = next(((n, v) for n, v in ordered if _has(v)), ordered[0])
        if self.repeated_header and _has(header := picked[self.repeated_header][1]):
            lists = {
                name: [(n, i) for n, i in items if i != header] for name, items in lists.items()
            }
        merged: dict[str, Any] = {}
        source: Provenance = {}
        for name in model.model_fields:
            if name in lists:
                merged[name] = [item for _, item in lists[name]]
                source |= {f"/{name}/{i}": number for i, (number, _) in enumerate(lists[name])}
            else:
                source[f"/{name}"], merged[name] = picked[name]
        return model.model_validate(merged), source
