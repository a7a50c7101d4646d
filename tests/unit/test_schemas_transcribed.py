"""Every built-in schema's transcribed pointers name leaves of its JSON Schema (a scalar a
page can print), in the form `confidence` writes pointers (``*`` for list items)."""

from __future__ import annotations

from typing import Any

import pytest

import schemas
from schemas.pointers import split

SCALARS = {"string", "number", "integer"}


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with ``$ref`` followed and a nullable ``anyOf`` reduced to its non-null arm."""
    while True:
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in node:
            arms = [a for a in node["anyOf"] if a.get("type") != "null"]
            assert len(arms) == 1, node
            node = arms[0]
        else:
            return node


def leaf_type(schema: dict[str, Any], pointer: str) -> str:
    node = _resolve(schema, schema)
    for token in split(pointer):
        if token == "*":
            assert node.get("type") == "array", f"{pointer}: '*' on a {node.get('type')}"
            node = _resolve(schema, node["items"])
        else:
            assert node.get("type") == "object", f"{pointer}: {token!r} on a {node.get('type')}"
            assert token in node["properties"], f"{pointer}: no property {token!r}"
            node = _resolve(schema, node["properties"][token])
    return str(node.get("type"))


@pytest.mark.parametrize("name", schemas.names())
def test_every_transcribed_pointer_is_a_scalar_leaf(name: str) -> None:
    spec = schemas.get(name)
    schema = spec.json_schema()
    for pointer in spec.transcribed:
        assert leaf_type(schema, pointer) in SCALARS, pointer
    assert len(set(spec.transcribed)) == len(spec.transcribed)


def test_the_helper_refuses_a_pointer_that_is_not_a_leaf() -> None:
    schema = schemas.get("invoice").json_schema()
    with pytest.raises(AssertionError):
        leaf_type(schema, "/line_items/*/nope")
    assert leaf_type(schema, "/line_items") == "array"  # not a scalar: the test above fails it
    assert leaf_type(schema, "/prices_include_tax") == "boolean"


def test_documents_declare_transcribed_fields_and_scenes_none() -> None:
    for name in ("invoice", "receipt", "passport", "id_card", "table"):
        assert schemas.get(name).transcribed, name
    for name in ("scene", "people_count", "object_count", "image_insight"):
        assert schemas.get(name).transcribed == (), name


def test_a_transcribed_pointer_outside_the_model_is_refused_at_creation() -> None:
    import dataclasses

    spec = schemas.get("invoice")
    with pytest.raises(ValueError, match="transcribed"):
        dataclasses.replace(spec, transcribed=("/nope",))
