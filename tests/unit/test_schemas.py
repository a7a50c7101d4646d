"""Every registered schema: metadata, descriptions, examples, strict form, and xgrammar.

The xgrammar checks compile each schema exactly as vLLM 0.32 does with
``structured_outputs: {"disable_any_whitespace": true}`` (strict mode, no free whitespace,
separators ``,`` and ``:``), then match the example's JSON and some near-misses against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import xgrammar as xgr
from xgrammar.testing import _is_grammar_accept_string

import schemas
from schemas import SchemaSpec, UnknownSchemaError
from schemas.object_count import USER_PROMPT as OBJECT_PROMPT
from schemas.people_count import USER_PROMPT as PEOPLE_PROMPT
from schemas.spec import COMMON_RULES
from schemas.table import Table

SPECS = schemas.all_specs()
IDS = [spec.name for spec in SPECS]

EXPECTED_CROPS = {
    "passport": 16,
    "id_card": 16,
    "invoice": 16,
    "receipt": 16,
    "table": 16,
    "slide_deck": 4,
    "scene": 4,
    "people_count": 4,
    "object_count": 4,
    "image_insight": 4,
}

# The users' prompts, word for word, as the issue states them (not imported from the code).
PEOPLE_PROMPT_VERBATIM = (
    "Tell me how many people are in this image. Your answer should be just a single number, "
    'for example "2". When I ask you how many people are in the image you must only output a '
    "number with no additional text. For example if I asked you how many people were in an "
    'image and there were 2 people you would only respond with "2".'
)
OBJECT_PROMPT_VERBATIM = (
    "Count the number of subjects in the image. There will be an obvious background and "
    "foreground, and you will tell me how many objects you see in the foreground. Your answer "
    'should be just a single number, for example "2". When I ask you how many people are in '
    "the image you must only output a number with no additional text. For example if I asked "
    "you how many people were in an image and there were 2 people you would only respond "
    'with "2".'
)


def grammar(schema: dict[str, Any]) -> xgr.Grammar:
    """Compile like vLLM's xgrammar backend with disable_any_whitespace."""
    return xgr.Grammar.from_json_schema(
        json.dumps(schema), strict_mode=True, any_whitespace=False, separators=(",", ":")
    )


def accepts(spec: SchemaSpec[Any], text: str) -> bool:
    """Whether the spec's compiled grammar accepts ``text`` as a complete answer."""
    return bool(_is_grammar_accept_string(grammar(spec.json_schema()), text))


def object_nodes(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object with ``properties``, the root and all ``$defs`` included."""
    stack: list[tuple[str, Any]] = [("#", schema)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("properties"), dict):
                yield path, node
            stack.extend((f"{path}/{k}", v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((f"{path}/{i}", v) for i, v in enumerate(node))


def test_registry_lists_every_required_kind_in_order() -> None:
    assert schemas.names() == tuple(EXPECTED_CROPS)
    assert [spec.name for spec in schemas.all_specs()] == list(schemas.names())
    assert all(schemas.get(name).name == name for name in schemas.names())


def test_unknown_schema_error_names_the_known_ones() -> None:
    with pytest.raises(UnknownSchemaError) as caught:
        schemas.get("pasport")
    message = str(caught.value)
    assert "'pasport'" in message
    assert all(name in message for name in schemas.names())
    assert caught.value.name == "pasport"
    assert caught.value.known == schemas.names()
    assert isinstance(caught.value, LookupError)


def test_package_exports_are_complete() -> None:
    assert sorted(schemas.__all__) == sorted(set(schemas.__all__))
    for name in schemas.__all__:
        assert hasattr(schemas, name), name


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_metadata_fits_the_kind(spec: SchemaSpec[Any]) -> None:
    assert spec.num_crops == EXPECTED_CROPS[spec.name]
    # One image's answer fits the smallest GPU profile's answer allowance (l4-24g: 1,536
    # tokens); a deck's answer covers every slide at once.
    assert 32 <= spec.max_tokens <= (2048 if spec.pages == "together" else 1536)
    # Everything after the image is recomputed for each schema on that image, so a kind's own
    # instructions stay short (the counting kinds carry the users' prompts word for word) and
    # the rules all kinds share live once, before the image, in COMMON_RULES.
    assert spec.instructions.strip()
    if spec.name not in ("people_count", "object_count"):
        assert len(spec.instructions) <= 200, len(spec.instructions)
    assert "null" not in spec.instructions and "null" in COMMON_RULES
    for path, node in object_nodes(spec.model.model_json_schema()):
        assert node.get("additionalProperties") is False, f"{path}: needs extra='forbid'"


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_every_property_has_a_description(spec: SchemaSpec[Any]) -> None:
    raw = spec.model.model_json_schema()
    nodes = list(object_nodes(raw))
    assert nodes, "no object schema found"
    missing = [
        f"{path}/properties/{name}"
        for path, node in nodes
        for name, prop in node["properties"].items()
        if not str(prop.get("description", "")).strip()
    ]
    assert not missing, f"properties without a description: {missing}"
    for path, node in nodes:
        if path != "#":
            assert node.get("description"), f"{path}: nested model needs a docstring"


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_example_validates_and_round_trips(spec: SchemaSpec[Any]) -> None:
    assert isinstance(spec.example, spec.model)
    again = spec.model.model_validate_json(spec.example.model_dump_json())
    assert again == spec.example


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_strict_schema_has_no_unsupported_keywords(spec: SchemaSpec[Any]) -> None:
    schema = spec.json_schema()
    assert schemas.find_unsupported_keywords(schema) == []
    assert schemas.schema_depth(schema) <= 8, "keep schemas shallow"
    assert len(json.dumps(schema)) < 8_000, "keep schemas small"


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_strict_schema_requires_every_property_and_forbids_extras(
    spec: SchemaSpec[Any],
) -> None:
    for path, node in object_nodes(spec.json_schema()):
        assert node["required"] == list(node["properties"]), path
        assert node["additionalProperties"] is False, path


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_strict_schema_matches_the_openai_sdk(spec: SchemaSpec[Any]) -> None:
    from openai.lib._pydantic import to_strict_json_schema

    assert spec.json_schema() == to_strict_json_schema(spec.model)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_response_format_is_strict_json_schema(spec: SchemaSpec[Any]) -> None:
    fmt = spec.response_format()
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"] == {"name": spec.name, "schema": spec.json_schema(), "strict": True}


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_xgrammar_accepts_the_example(spec: SchemaSpec[Any]) -> None:
    assert accepts(spec, spec.example.model_dump_json())


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_xgrammar_rejects_near_misses(spec: SchemaSpec[Any]) -> None:
    good = spec.example.model_dump_json()
    data = json.loads(good)
    first = next(iter(data))
    missing_field = {k: v for k, v in data.items() if k != first}
    extra_field = {**data, "unexpected": None}
    assert not accepts(spec, "{}")
    assert not accepts(spec, json.dumps(missing_field, separators=(",", ":")))
    assert not accepts(spec, json.dumps(extra_field, separators=(",", ":"), ensure_ascii=False))
    assert not accepts(spec, good.replace(":", ": ", 1)), "free whitespace must be off"
    assert not accepts(spec, good[:-1]), "a truncated answer is not complete"


# Enforced by the grammar alone: pydantic accepts a superset of text (see schemas.fields), and
# fills a missing nullable key with its null default.
GRAMMAR_ONLY = {("passport", "surname"), ("id_card", "address"), ("invoice", "line_items")}


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("passport", "date_of_birth", "12/08/1974"),
        ("passport", "date_of_birth", "1974-13-01"),
        ("passport", "sex", "female"),
        ("passport", "surname", 'O"BRIEN'),
        ("passport", "mrz_lines", ["p<uto"]),
        ("invoice", "currency", "eur"),
        ("invoice", "total", 1e13),
        ("invoice", "line_items", [{"description": "x"}]),
        ("receipt", "time", "25:61"),
        ("scene", "risk_level", "extreme"),
        ("people_count", "count", -1),
        ("people_count", "count", 2.5),
        ("people_count", "confidence", "certain"),
        ("object_count", "count", 10_000_000),
        ("id_card", "address", "x" * 257),
    ],
)
def test_xgrammar_and_pydantic_reject_bad_values(name: str, field: str, value: Any) -> None:
    spec = schemas.get(name)
    data = {**spec.example.model_dump(mode="json"), field: value}
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    assert not accepts(spec, text)
    if (name, field) not in GRAMMAR_ONLY:
        with pytest.raises(ValueError):
            spec.model.model_validate_json(text)


def test_counting_instructions_contain_the_users_prompts_verbatim() -> None:
    assert PEOPLE_PROMPT == PEOPLE_PROMPT_VERBATIM
    assert OBJECT_PROMPT == OBJECT_PROMPT_VERBATIM
    people, objects = schemas.get("people_count"), schemas.get("object_count")
    assert PEOPLE_PROMPT_VERBATIM in people.instructions
    assert OBJECT_PROMPT_VERBATIM in objects.instructions
    for spec in (people, objects):
        assert "count" in spec.instructions
        assert list(spec.model.model_fields)[0] == "count", "the number comes first"


@pytest.mark.parametrize("name", ["people_count", "object_count"])
def test_counts_are_non_negative_integers(name: str) -> None:
    spec = schemas.get(name)
    zero = {**spec.example.model_dump(), "count": 0}
    assert spec.model.model_validate(zero).model_dump()["count"] == 0
    for bad in (-3, 1.5, 2_000_000):
        with pytest.raises(ValueError):
            spec.model.model_validate_json(json.dumps({**zero, "count": bad}))
    assert spec.json_schema()["properties"]["count"]["type"] == "integer"
    assert spec.json_schema()["properties"]["count"]["minimum"] == 0


def test_spec_refuses_inconsistent_metadata() -> None:
    good = schemas.get("scene")
    fields = {f: getattr(good, f) for f in good.__dataclass_fields__}
    for bad in (
        {"name": "Bad Name"},
        {"num_crops": 0},
        {"num_crops": 17},
        {"max_tokens": 0},
        {"instructions": "  "},
        {"example": schemas.get("table").example},
    ):
        with pytest.raises((ValueError, TypeError)):
            SchemaSpec(**{**fields, **bad})


def test_table_markdown_renders_header_separator_and_rows() -> None:
    table = Table(title=None, columns=["Region", "Q1"], rows=[["North", "12.5"], ["South"]])
    assert table.to_markdown() == ("| Region | Q1 |\n| --- | --- |\n| North | 12.5 |\n| South |  |")


def test_table_markdown_escapes_pipes_backslashes_and_newlines() -> None:
    table = Table(title="A | B", columns=["a|b", "c"], rows=[["line 1\nline 2", "x\\|y\r\nz"]])
    assert table.to_markdown() == (
        "A \\| B\n\n| a\\|b | c |\n| --- | --- |\n| line 1<br>line 2 | x\\\\\\|y<br>z |"
    )


def test_table_markdown_pads_to_the_widest_row_and_handles_empty() -> None:
    wide = Table(title=None, columns=["a"], rows=[["1", "2", "3"]])
    assert wide.to_markdown().splitlines() == [
        "| a |  |  |",
        "| --- | --- | --- |",
        "| 1 | 2 | 3 |",
    ]
    assert Table(title=None, columns=[], rows=[]).to_markdown() == ""
    assert Table(title="Empty", columns=[], rows=[]).to_markdown() == "Empty"
