"""``.cog/openapi_schema.json`` from the predictor, as Cog's CLI writes it at build time.

coglet validates inputs (and allows streaming) only when that file exists, and only the Go
CLI writes it (``cog build``, from a static parse of predict.py). Here, without the CLI, the
same document is built from the predictor's signature: the inputs and output as the SDK's own
inspector reads them (`cog._inspector`, pinned with the SDK at 0.23.1), laid out like the
CLI's ``buildOpenAPISpec`` (pkg/schema/openapi_spec.go): ``Input`` with ``x-order``, titles,
defaults, ``nullable``, bounds and required names; ``Output``; the prediction envelope.

    python -m gateway.predictor.openapi            # writes .cog/openapi_schema.json
    schema = build_schema("predict", "Predictor")
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import cog
from cog import _adt, _inspector
from cog.input import FieldInfo

__all__ = ["SCHEMA_PATH", "build_schema", "input_schema", "main", "write_schema"]

SCHEMA_PATH = Path(".cog/openapi_schema.json")
"""Where coglet looks for it, relative to the server's working directory."""

_VALIDATION_ERROR = {"$ref": "#/components/schemas/HTTPValidationError"}


def _title(name: str) -> str:
    return " ".join(part.capitalize() for part in name.split("_"))


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def input_schema(module: str, name: str) -> dict[str, Any]:
    """The ``Input`` component: one property per parameter of ``run()``, in order."""
    info = _inspector.create_predictor(module, name)
    predictor = getattr(sys.modules[module], name)
    method = getattr(predictor, "run", predictor)  # a class's run(), or a plain function
    params = inspect.signature(method).parameters
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in sorted(info.inputs.values(), key=lambda f: f.order):
        if field.choices:
            raise ValueError(f"{field.name}: choices are not laid out here (no input uses them)")
        nullable = field.type.repetition in (
            _adt.Repetition.OPTIONAL,
            _adt.Repetition.OPTIONAL_REPEATED,
        )
        prop: dict[str, Any] = {"x-order": field.order, "title": _title(field.name)}
        prop |= field.type.json_type()
        declared = params[field.name].default
        has_default = declared is not inspect.Parameter.empty and (
            field.default is not None or nullable
        )
        if not has_default and not (isinstance(declared, FieldInfo) and nullable):
            required.append(field.name)
        if has_default:
            prop["default"] = field.default
        if nullable:
            prop["nullable"] = True
        for key, value in (
            ("description", field.description),
            ("minimum", field.ge),
            ("maximum", field.le),
            ("minLength", field.min_length),
            ("maxLength", field.max_length),
            ("pattern", field.regex),
        ):
            if value is not None:
                prop[key] = value
        if field.deprecated:
            prop["deprecated"] = True
        properties[field.name] = dict(sorted(prop.items()))
    schema: dict[str, Any] = {"title": "Input", "type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def build_schema(module: str = "predict", name: str = "Predictor") -> dict[str, Any]:
    """The whole OpenAPI 3.0.2 document for ``module:name``."""
    info = _inspector.create_predictor(module, name)
    output = info.output.json_type()
    response = {
        "input": {"$ref": "#/components/schemas/Input"},
        "output": {"$ref": "#/components/schemas/Output"},
        "id": {"title": "Id", "type": "string"},
        "version": {"title": "Version", "type": "string"},
        "created_at": {"title": "Created At", "type": "string", "format": "date-time"},
        "started_at": {"title": "Started At", "type": "string", "format": "date-time"},
        "completed_at": {"title": "Completed At", "type": "string", "format": "date-time"},
        "status": {"title": "Status", "type": "string"},
        "error": {"title": "Error", "type": "string"},
        "logs": {"title": "Logs", "type": "string"},
        "metrics": {"title": "Metrics", "type": "object"},
    }
    components = {
        "Input": input_schema(module, name),
        "Output": output,
        "PredictionRequest": {
            "title": "PredictionRequest",
            "type": "object",
            "properties": {
                "id": {"title": "Id", "type": "string"},
                "input": {"$ref": "#/components/schemas/Input"},
            },
        },
        "PredictionResponse": {
            "title": "PredictionResponse",
            "type": "object",
            "properties": response,
        },
        "Status": {
            "title": "Status",
            "description": "An enumeration.",
            "enum": ["starting", "processing", "succeeded", "canceled", "failed"],
            "type": "string",
        },
        "HTTPValidationError": {
            "title": "HTTPValidationError",
            "type": "object",
            "properties": {
                "detail": {
                    "title": "Detail",
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/ValidationError"},
                }
            },
        },
        "ValidationError": {
            "title": "ValidationError",
            "required": ["loc", "msg", "type"],
            "type": "object",
            "properties": {
                "loc": {
                    "title": "Location",
                    "type": "array",
                    "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                },
                "msg": {"title": "Message", "type": "string"},
                "type": {"title": "Error Type", "type": "string"},
            },
        },
    }
    ok = {"description": "Successful Response", "content": _json({})}
    invalid = {"description": "Validation Error", "content": _json(_VALIDATION_ERROR)}
    paths = {
        "/": {"get": {"summary": "Root", "operationId": "root__get", "responses": {"200": ok}}},
        "/health-check": {
            "get": {
                "summary": "Healthcheck",
                "operationId": "healthcheck_health_check_get",
                "responses": {"200": ok},
            }
        },
        "/predictions": {
            "post": {
                "summary": "Predict",
                "description": "Run a single prediction on the model",
                "operationId": "predict_predictions_post",
                "requestBody": {
                    "content": _json({"$ref": "#/components/schemas/PredictionRequest"})
                },
                "responses": {
                    "200": {
                        "description": "Successful Response",
                        "content": _json({"$ref": "#/components/schemas/PredictionResponse"}),
                    },
                    "422": invalid,
                },
            }
        },
        "/predictions/{prediction_id}/cancel": {
            "post": {
                "summary": "Cancel",
                "operationId": "cancel_predictions__prediction_id__cancel_post",
                "parameters": [
                    {
                        "required": True,
                        "schema": {"title": "Prediction Id", "type": "string"},
                        "name": "prediction_id",
                        "in": "path",
                    }
                ],
                "responses": {"200": ok, "422": invalid},
            }
        },
    }
    return {
        "openapi": "3.0.2",
        "info": {"title": "Cog", "version": cog.__version__},
        "paths": paths,
        "components": {"schemas": components},
    }


def write_schema(root: Path, module: str = "predict", name: str = "Predictor") -> Path:
    """Write the document under ``root`` (the directory the server runs in)."""
    path = root / SCHEMA_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(build_schema(module, name), separators=(",", ":")))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the server's directory")
    parser.add_argument("--predictor", default="predict.py:Predictor", help="as in cog.yaml")
    args = parser.parse_args(argv)
    module, _, name = args.predictor.partition(":")
    sys.path.insert(0, str(args.root))
    print(write_schema(args.root, module.removesuffix(".py").replace("/", "."), name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
