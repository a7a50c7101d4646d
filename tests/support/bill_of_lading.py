"""A registered document type for tests and docs: a bill of lading with an IBAN check, a
weight sum and a date order (docs/custom-schemas.md uses the same definition)."""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["BILL_OF_LADING", "GOOD_ANSWER", "definition"]

_NULLABLE_TEXT: dict[str, Any] = {"type": ["string", "null"], "maxLength": 64}

BILL_OF_LADING: dict[str, Any] = {
    "name": "bill_of_lading",
    "description": "Bill of lading: number, parties, vessel, dates, packages and weights.",
    "instructions": (
        "The image shows a bill of lading: extract the B/L number, the shipper, the "
        "consignee, the vessel, the dates, every package line with its gross weight, the "
        "total gross weight and the IBAN freight is paid to."
    ),
    "json_schema": {
        "type": "object",
        "properties": {
            "bl_number": {"type": ["string", "null"], "maxLength": 32},
            "shipper": _NULLABLE_TEXT,
            "consignee": _NULLABLE_TEXT,
            "vessel": _NULLABLE_TEXT,
            "shipped_on_board": {"type": ["string", "null"], "format": "date"},
            "issue_date": {"type": ["string", "null"], "format": "date"},
            "packages": {
                "type": "array",
                "maxItems": 20,
                "items": {
                    "type": "object",
                    "properties": {
                        "description": _NULLABLE_TEXT,
                        "count": {"type": ["integer", "null"], "minimum": 0, "maximum": 100000},
                        "gross_weight_kg": {
                            "type": ["number", "null"],
                            "minimum": 0,
                            "maximum": 1000000,
                        },
                    },
                },
            },
            "total_gross_weight_kg": {
                "type": ["number", "null"],
                "minimum": 0,
                "maximum": 10000000,
            },
            "iban": {"type": ["string", "null"], "pattern": "^[A-Z]{2}[0-9]{2}[A-Z0-9 ]{10,40}$"},
        },
    },
    "num_crops": 16,
    "max_tokens": 512,
    "merge": {"concatenate": ["packages"], "last": ["total_gross_weight_kg"]},
    "checks": [
        {
            "name": "weights",
            "type": "sum",
            "items": "/packages/*/gross_weight_kg",
            "equals": "/total_gross_weight_kg",
        },
        {"name": "iban", "type": "identifier", "field": "/iban", "format": "iban", "scope": "page"},
        {"name": "dates", "type": "date_order", "fields": ["/shipped_on_board", "/issue_date"]},
    ],
    "transcribed": ["/bl_number", "/packages/*/gross_weight_kg"],
    "required": ["/bl_number", "/total_gross_weight_kg"],
}

GOOD_ANSWER: dict[str, Any] = {
    "bl_number": "HLCUHAM240312345",
    "shipper": "Acme Tools GmbH",
    "consignee": "Example Ltd",
    "vessel": "Northern Star",
    "shipped_on_board": "2024-03-04",
    "issue_date": "2024-03-05",
    "packages": [
        {"description": "Pallets of drills", "count": 4, "gross_weight_kg": 1250.5},
        {"description": "Crates of bits", "count": 2, "gross_weight_kg": 310.25},
    ],
    "total_gross_weight_kg": 1560.75,
    "iban": "DE89 3704 0044 0532 0130 00",
}


def definition(**changes: Any) -> dict[str, Any]:
    """A fresh copy of the bill of lading's definition, with ``changes``."""
    return {**copy.deepcopy(BILL_OF_LADING), **changes}
