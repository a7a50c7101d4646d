"""Typed structured outputs for images: one Pydantic model per document or scene kind.

Each kind lives in its own module with a `SchemaSpec` (model, instructions, ``num_crops``,
``max_tokens``, example); `registry` looks them up by name; `jsonschema` turns a model into
the strict schema vLLM's xgrammar backend compiles, and vets user-supplied schemas.

    >>> import schemas
    >>> spec = schemas.get("invoice")
    >>> data = spec.model.model_validate_json('{"line_items": [], "total": 12.5}')
    >>> data.total
    12.5
"""

from schemas.id_card import IdCard
from schemas.image_insight import ImageInsight
from schemas.invoice import Invoice
from schemas.jsonschema import (
    find_unsupported_keywords,
    schema_depth,
    strict_json_schema,
    to_strict,
)
from schemas.line_item import Adjustment, LineItem, TaxLine
from schemas.merge import FieldMerge, Provenance, pages_for
from schemas.object_count import ObjectCount
from schemas.passport import Passport
from schemas.people_count import PeopleCount
from schemas.receipt import Receipt
from schemas.registry import UnknownSchemaError, all_specs, get, names
from schemas.scene import RiskLevel, Scene
from schemas.slide_deck import Slide, SlideDeck
from schemas.spec import SchemaSpec
from schemas.table import Table

__all__ = [
    "Adjustment",
    "FieldMerge",
    "IdCard",
    "ImageInsight",
    "Invoice",
    "LineItem",
    "ObjectCount",
    "Passport",
    "PeopleCount",
    "Provenance",
    "Receipt",
    "RiskLevel",
    "Scene",
    "SchemaSpec",
    "Slide",
    "SlideDeck",
    "Table",
    "TaxLine",
    "UnknownSchemaError",
    "all_specs",
    "find_unsupported_keywords",
    "get",
    "names",
    "pages_for",
    "schema_depth",
    "strict_json_schema",
    "to_strict",
]
