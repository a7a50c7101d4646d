"""`schemas.jsonschema`: strict transformation, unsupported-keyword finder, depth."""

from __future__ import annotations

import copy
from enum import Enum
from typing import Any

import pytest
from pydantic import BaseModel, Field

from schemas.jsonschema import (
    find_unsupported_keywords,
    schema_depth,
    strict_json_schema,
    to_strict,
)


class _Inner(BaseModel):
    """A nested model."""

    value: int = Field(description="A value.")


class _Colour(Enum):
    RED = "red"
    BLUE = "blue"


class _Outer(BaseModel):
    name: str | None = Field(default=None, description="Optional name.")
    colour: _Colour = Field(description="An enum, a $ref with a description beside it.")
    scores: dict[str, int] = Field(description="A map: additionalProperties is a schema.")
    maybe: _Inner | None = Field(default=None, description="An optional nested model.")
    inner: _Inner = Field(description="Inner, with a description beside its $ref.")
    inners: list[_Inner] = Field(description="Several inners.")
    flag: bool = Field(default=True, description="A flag with a non-null default.")


def test_strict_schema_requires_all_and_keeps_optionals_nullable() -> None:
    schema = strict_json_schema(_Outer)
    assert schema["required"] == ["name", "colour", "scores", "maybe", "inner", "inners", "flag"]
    assert schema["additionalProperties"] is False
    name = schema["properties"]["name"]
    assert name["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert "default" not in name, "null defaults are dropped"
    assert schema["properties"]["flag"]["default"] is True, "other defaults stay"


def test_strict_schema_inlines_refs_with_siblings_and_keeps_defs() -> None:
    schema = strict_json_schema(_Outer)
    inner = schema["properties"]["inner"]
    assert "$ref" not in inner
    assert inner["description"].startswith("Inner, with")
    assert inner["additionalProperties"] is False and inner["required"] == ["value"]
    assert schema["properties"]["inners"]["items"] == {"$ref": "#/$defs/_Inner"}
    assert schema["$defs"]["_Inner"]["additionalProperties"] is False
    assert schema["properties"]["colour"]["enum"] == ["red", "blue"]
    assert schema["properties"]["scores"]["additionalProperties"] == {"type": "integer"}
    assert schema["properties"]["maybe"]["anyOf"] == [{"$ref": "#/$defs/_Inner"}, {"type": "null"}]


def test_strict_schema_matches_the_openai_sdk_on_a_nested_model() -> None:
    from openai.lib._pydantic import to_strict_json_schema

    assert strict_json_schema(_Outer) == to_strict_json_schema(_Outer)


def test_to_strict_does_not_mutate_its_input_and_merges_single_allof() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"a": {"allOf": [{"type": "object", "properties": {"b": {}}}]}},
    }
    before = copy.deepcopy(schema)
    strict = to_strict(schema)
    assert schema == before
    a = strict["properties"]["a"]
    assert "allOf" not in a
    assert a["required"] == ["b"] and a["additionalProperties"] is False


def test_to_strict_rejects_remote_refs() -> None:
    with pytest.raises(ValueError, match="only local"):
        to_strict({"properties": {"a": {"$ref": "http://x/y.json", "description": "d"}}})


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "number", "multipleOf": 0.5}, ["#: multipleOf"]),
        (
            {"type": "object", "properties": {"tags": {"type": "array", "uniqueItems": True}}},
            ["#/properties/tags: uniqueItems"],
        ),
        (
            {"type": "object", "patternProperties": {"^x": {"type": "string"}}},
            ["#: patternProperties"],
        ),
        ({"type": "array", "contains": {"const": 1}}, ["#: contains"]),
        (
            {"type": "object", "minProperties": 1, "maxProperties": 3},
            ["#: minProperties", "#: maxProperties"],
        ),
        ({"type": "object", "propertyNames": {"pattern": "^a"}}, ["#: propertyNames"]),
        ({"type": "string", "format": "binary"}, ["#: format (value 'binary')"]),
        ({"type": "string", "pattern": "^a+$", "maxLength": 3}, ["#: maxLength (with pattern)"]),
        ({"type": "string", "pattern": "^(a)\\1$"}, ["#: pattern (lookaround or backreference)"]),
        ({"allOf": [{"type": "string"}, {"enum": ["y"]}]}, ["#: allOf (2 entries)"]),
        (
            {"type": "array", "items": [{"type": "string"}]},
            ["#: items (array form; use prefixItems)"],
        ),
        ({"type": "integer", "exclusiveMinimum": True}, ["#: exclusiveMinimum (boolean form)"]),
        ({"not": {"type": "string"}}, ["#: not"]),
        ({"$ref": "#anchor"}, ["#: $ref (non-local '#anchor')"]),
    ],
)
def test_unsupported_keywords_are_named_with_their_path(
    schema: dict[str, Any], expected: list[str]
) -> None:
    assert find_unsupported_keywords(schema) == expected


def test_unsupported_keywords_are_found_in_defs_and_combinators() -> None:
    schema = {
        "$defs": {"Tag": {"type": "array", "uniqueItems": True}},
        "type": "object",
        "properties": {
            "a/b": {"anyOf": [{"type": "integer", "multipleOf": 3}, {"type": "null"}]},
            "c": {"type": "array", "items": {"type": "object", "patternProperties": {}}},
        },
        "additionalProperties": {"type": "string", "format": "made-up"},
    }
    assert sorted(find_unsupported_keywords(schema)) == sorted(
        [
            "#/$defs/Tag: uniqueItems",
            "#/properties/a~1b/anyOf/0: multipleOf",
            "#/properties/c/items: patternProperties",
            "#/additionalProperties: format (value 'made-up')",
        ]
    )


def test_names_and_data_that_look_like_keywords_are_not_flagged() -> None:
    schema = {
        "type": "object",
        "properties": {
            "uniqueItems": {"type": "boolean"},
            "format": {"type": "string", "enum": ["multipleOf"], "default": {"not": 1}},
            "when": {"type": "string", "format": "date-time", "examples": [{"contains": 1}]},
        },
    }
    assert find_unsupported_keywords(schema) == []


def test_supported_keywords_pass() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 0, "maximum": 10},
            "s": {"type": "string", "minLength": 1, "maxLength": 5},
            "p": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "l": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
            "e": {"enum": ["a", "b"]},
            "r": {"$ref": "#/$defs/R"},
        },
        "$defs": {"R": {"type": "object", "properties": {"x": {"$ref": "#"}}}},
    }
    assert find_unsupported_keywords(schema) == []


def test_a_deeply_nested_schema_does_not_hit_the_recursion_limit() -> None:
    schema: dict[str, Any] = {"type": "string", "uniqueItems": True}
    for _ in range(5_000):
        schema = {"type": "array", "items": schema}
    found = find_unsupported_keywords(schema)
    assert len(found) == 1 and found[0].endswith("/items: uniqueItems")
    assert schema_depth(schema) == 5_001


@pytest.mark.parametrize(
    ("value", "depth"),
    [
        ("x", 0),
        ({}, 1),
        ([], 1),
        ({"a": 1}, 1),
        ({"a": {}}, 2),
        ({"a": [1, {"b": []}]}, 4),
        ({"type": "object", "properties": {"a": {"type": "string"}}}, 3),
    ],
)
def test_schema_depth_counts_document_nesting(value: object, depth: int) -> None:
    """The count vLLM's ``check_json_nesting`` uses: it refuses a schema whose depth > 64."""
    assert schema_depth(value) == depth
