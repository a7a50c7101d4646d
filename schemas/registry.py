"""The schema registry: every extraction kind by name, in a stable order.

Registration is static (an import of each kind's module), so the set of kinds is known at
import time, the OpenAPI document can list them, and a typo fails in tests, not in production.

    >>> from schemas.registry import get, names
    >>> "passport" in names()
    True
    >>> get("passport").num_crops
    16
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from schemas import (
    id_card,
    image_insight,
    invoice,
    object_count,
    passport,
    people_count,
    receipt,
    scene,
    slide_deck,
    table,
)
from schemas.spec import SchemaSpec

__all__ = ["UnknownSchemaError", "all_specs", "get", "names"]


class UnknownSchemaError(LookupError):
    """No schema has this name; the message lists the known names (the gateway's 404)."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown schema {name!r}; known schemas: {', '.join(known)}")


def _build(*specs: SchemaSpec[Any]) -> Mapping[str, SchemaSpec[Any]]:
    """Index specs by name, refusing duplicates (a silent overwrite would hide a kind)."""
    by_name: dict[str, SchemaSpec[Any]] = {}
    for spec in specs:
        if spec.name in by_name:
            raise ValueError(f"schema {spec.name!r} registered twice")
        by_name[spec.name] = spec
    return MappingProxyType(by_name)


_REGISTRY = _build(
    passport.SPEC,
    id_card.SPEC,
    invoice.SPEC,
    receipt.SPEC,
    table.SPEC,
    slide_deck.SPEC,
    scene.SPEC,
    people_count.SPEC,
    object_count.SPEC,
    image_insight.SPEC,
)


def get(name: str) -> SchemaSpec[Any]:
    """The spec called ``name``; raises `UnknownSchemaError` naming the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownSchemaError(name, names()) from None


def names() -> tuple[str, ...]:
    """Registered schema names, documents first, then scenes, counts and the fallback."""
    return tuple(_REGISTRY)


def all_specs() -> tuple[SchemaSpec[Any], ...]:
    """Every registered spec, in the order of `names`."""
    return tuple(_REGISTRY.values())
