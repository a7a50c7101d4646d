"""User-supplied JSON schemas are vetted before vLLM compiles them."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import GatewayError
from gateway.schema_guard import check_user_schemas
from gateway.settings import Settings

SETTINGS = Settings(max_schema_bytes=2048, max_schema_depth=6)


def request(schema: Any) -> dict[str, Any]:
    return {
        "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}
    }


def refused(payload: dict[str, Any]) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        check_user_schemas(payload, SETTINGS)
    assert caught.value.status == 400
    return caught.value


def test_a_plain_schema_passes() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}}
    check_user_schemas(request(schema), SETTINGS)


def test_size_cap_names_the_limit() -> None:
    big = {"type": "object", "properties": {f"field_{i}": {"type": "string"} for i in range(200)}}
    error = refused(request(big))
    assert error.code == "schema_too_large" and "2048" in error.message
    assert error.param == "response_format.json_schema.schema"


def test_depth_cap_names_the_limit() -> None:
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(5):
        deep = {"type": "object", "properties": {"x": deep}}
    error = refused(request(deep))
    assert error.code == "schema_too_deep" and "limit is 6" in error.message


@pytest.mark.parametrize("keyword", ["multipleOf", "uniqueItems", "patternProperties", "not"])
def test_unsupported_keyword_is_named(keyword: str) -> None:
    values = {"multipleOf": 5, "uniqueItems": True, "patternProperties": {}, "not": {}}
    schema = {"type": "object", "properties": {"v": {"type": "array", keyword: values[keyword]}}}
    error = refused(request(schema))
    assert error.code == "schema_unsupported_keyword" and keyword in error.message


def test_structured_outputs_json_is_vetted_too() -> None:
    error = refused({"structured_outputs": {"json": {"type": "integer", "multipleOf": 3}}})
    assert error.param == "structured_outputs.json"


def test_a_schema_that_is_not_an_object_is_refused() -> None:
    assert refused(request("not a schema")).code == "schema_invalid"
