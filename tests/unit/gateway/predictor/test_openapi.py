"""The OpenAPI schema written without Cog's CLI: every input of run(), as the CLI lays it out."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from cog.input import FieldInfo

from gateway.predictor.openapi import build_schema, main
from predict import Predictor


def _params() -> dict[str, inspect.Parameter]:
    return dict(list(inspect.signature(Predictor.run).parameters.items())[1:])


def test_the_input_schema_lists_every_parameter_in_order_with_its_default() -> None:
    schema = build_schema()["components"]["schemas"]["Input"]
    props = schema["properties"]
    params = _params()
    assert list(props) == list(params)
    for order, (name, param) in enumerate(params.items()):
        assert isinstance(param.default, FieldInfo)
        assert props[name]["x-order"] == order
        assert props[name]["default"] == param.default.default, name
        assert props[name]["description"] == param.default.description
    assert "required" not in schema  # every input has a default


def test_types_bounds_and_nullability_follow_the_annotations() -> None:
    props = build_schema()["components"]["schemas"]["Input"]["properties"]
    image = props["image"]
    assert (image["type"], image["format"], image["nullable"]) == ("string", "uri", True)
    assert (props["num_crops"]["type"], props["num_crops"]["minimum"]) == ("integer", 1)
    assert props["num_crops"]["maximum"] == 16 and props["num_crops"]["nullable"] is True
    assert props["temperature"]["type"] == "number" and props["temperature"]["maximum"] == 2
    assert props["confidence"]["type"] == "boolean"
    assert props["image_urls"]["type"] == "string" and "nullable" not in props["image_urls"]
    assert props["seed"]["nullable"] is True and props["seed"]["minimum"] == 0


def test_the_output_names_model_revision_and_version_and_both_kinds_of_answer() -> None:
    output = build_schema()["components"]["schemas"]["Output"]
    assert output["type"] == "object"
    assert set(output["required"]) == {"model", "model_revision", "version", "usage"}
    for name in ("text", "data", "confidence", "checks", "review", "review_reasons", "pages"):
        assert output["properties"][name]["nullable"] is True


def test_the_document_has_the_prediction_routes_and_writes_where_coglet_reads(
    tmp_path: Path,
) -> None:
    assert main(["--root", str(tmp_path)]) == 0
    written = json.loads((tmp_path / ".cog" / "openapi_schema.json").read_text())
    assert written == build_schema()
    assert written["openapi"] == "3.0.2"
    assert {"/predictions", "/health-check", "/predictions/{prediction_id}/cancel"} <= set(
        written["paths"]
    )
