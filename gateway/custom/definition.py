"""A schema registered through the API: its definition, vetted, and the `SchemaSpec` it makes.

`SchemaDefinition` is what ``POST /v1/schemas`` takes. `vet` checks all of it at once, at
registration, never at first use: the JSON Schema (`vetting.bounded_schema`), the checks
(`schemas.checks.language`, named ``custom.<name>``), the merge rule, and every pointer
(``required``, ``transcribed``) against the schema's fields. `build_spec` turns a stored
definition into a `CustomSpec`, a `SchemaSpec` like the built-ins', so every stage of the
pipeline (reading, confidence, checks, review, repair, merge, verify) runs it unchanged.

The model of a registered kind has one attribute per top-level property (so merge rules and
pointers work as for the built-ins) and validates the whole answer against the registered
JSON Schema (``jsonschema``, Draft 2020-12): data that comes back always satisfies it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from schemas import FieldMerge, SchemaSpec, names, to_strict
from schemas.checks.language import CheckSpecError, compile_checks
from schemas.checks.walk import STAR
from schemas.pointers import split
from schemas.spec import _NAME, MAX_NUM_CROPS

from ..errors import ErrorCode, GatewayError
from ..settings import Settings
from .vetting import bounded_schema

__all__ = [
    "CustomData",
    "CustomSpec",
    "MergeRule",
    "SchemaDefinition",
    "build_spec",
    "vet",
]

CHECK_PREFIX = "custom."


class MergeRule(BaseModel):
    """The built-ins' merge rule (`schemas.merge.FieldMerge`): lists concatenated in page
    order, ``last`` fields from the last page that has them, every other field from the
    first page that has it."""

    model_config = ConfigDict(extra="forbid")

    concatenate: list[str] = Field(default_factory=list, max_length=64)
    last: list[str] = Field(default_factory=list, max_length=64)


class SchemaDefinition(BaseModel):
    """A document type of your own: ``POST /v1/schemas`` (``PUT`` takes the same, its
    ``name`` optional)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=_NAME.pattern,
        description="URL-safe name, as the built-ins': lowercase letters, digits and '_'.",
    )
    description: str = Field(min_length=1, max_length=300, description="One line for humans.")
    instructions: str = Field(
        min_length=1,
        max_length=2000,
        description="What the model reads after the image: what the document is and what to "
        "extract (the shared rules on JSON, dates and amounts are added by the gateway).",
    )
    json_schema: dict[str, Any] = Field(
        description="The JSON Schema of `data`: an object with properties. Every string is "
        "bounded (a default pattern of at most 128 characters is added where none is given) "
        "and every array too (a default maxItems); the stored schema shows them."
    )
    num_crops: int = Field(default=16, ge=1, le=MAX_NUM_CROPS, description="336-px tiles.")
    max_tokens: int = Field(default=1024, ge=1, le=8192, description="Answer budget.")
    merge: MergeRule | None = Field(
        default=None,
        description="How the pages of a document merge; default: every field from the first "
        "page that has it.",
    )
    checks: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=64,
        description="Checks as data (docs/custom-schemas.md): sum, product, expression, "
        "identifier, date_order, mrz; reported as custom.<name>.",
    )
    transcribed: list[str] = Field(
        default_factory=list,
        max_length=128,
        description="JSON Pointers (with '*' for every element of a list) of the values that "
        "must appear printed on the page.",
    )
    required: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="JSON Pointers of the fields an answer needs before it may be acted on "
        "unseen; a blank one sends the answer to review.",
    )


class CustomData(BaseModel):
    """The base of every registered kind's model: top-level fields as attributes, the
    whole object validated against the registered JSON Schema."""

    model_config = ConfigDict(extra="forbid")
    json_schema_validator: ClassVar[Draft202012Validator | None] = None

    @model_validator(mode="before")
    @classmethod
    def _matches_schema(cls, data: Any) -> Any:
        validator = cls.json_schema_validator
        if validator is not None:
            error = next(iter(sorted(validator.iter_errors(data), key=lambda e: e.path)), None)
            if error is not None:
                where = "/" + "/".join(str(p) for p in error.absolute_path)
                raise ValueError(f"{where}: {error.message}")
        return data


@dataclass(frozen=True)
class CustomSpec(SchemaSpec[CustomData]):
    """A registered kind: a `SchemaSpec` whose JSON Schema is the stored one."""

    schema: dict[str, Any] = field(default_factory=dict)
    """The bounded, strict JSON Schema sent to the engine and validated against."""

    def json_schema(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(json.dumps(self.schema))
        return result


def _model(name: str, schema: dict[str, Any]) -> type[CustomData]:
    fields: dict[str, Any] = {prop: (Any, None) for prop in schema["properties"]}
    model = create_model(f"Custom_{name}", __base__=CustomData, **fields)
    model.json_schema_validator = Draft202012Validator(schema)
    return model


def build_spec(definition: dict[str, Any], version: int) -> CustomSpec:
    """The spec of a stored (already vetted) definition."""
    schema = definition["json_schema"]
    fields = set(schema["properties"])
    model = _model(definition["name"], schema)
    merge = definition.get("merge") or {}
    checks = compile_checks(definition.get("checks", []), fields=fields, prefix=CHECK_PREFIX)
    return CustomSpec(
        name=definition["name"],
        description=definition["description"],
        model=model,
        instructions=definition["instructions"],
        num_crops=definition["num_crops"],
        max_tokens=definition["max_tokens"],
        example=model.model_construct(),
        checks=checks,
        required=tuple(definition.get("required", [])),
        merge=FieldMerge(
            concatenate=tuple(merge.get("concatenate", [])), last=tuple(merge.get("last", []))
        ),
        version=version,
        schema=schema,
        transcribed=tuple(definition.get("transcribed", [])),
    )


def _pointer(pointer: str, fields: set[str], param: str, stars: bool) -> None:
    try:
        tokens = split(pointer)
    except ValueError:
        tokens = []
    if not tokens or tokens[0] not in fields or (not stars and STAR in tokens):
        raise GatewayError(
            400,
            f"{pointer!r} is not a JSON Pointer to a field of the schema",
            param=param,
            code=ErrorCode.INVALID_VALUE,
        )


def vet(definition: SchemaDefinition, settings: Settings) -> dict[str, Any]:
    """The definition as it is stored (the JSON Schema bounded and strict), or a 400
    naming the field and the rule. A built-in's name is refused by the caller (409)."""
    schema = to_strict(bounded_schema(definition.json_schema, settings))
    fields = set(schema["properties"])
    for i, pointer in enumerate(definition.required):
        _pointer(pointer, fields, f"required[{i}]", stars=False)
    for i, pointer in enumerate(definition.transcribed):
        _pointer(pointer, fields, f"transcribed[{i}]", stars=True)
    merge = definition.merge or MergeRule()
    for key in ("concatenate", "last"):
        for i, name in enumerate(getattr(merge, key)):
            if name not in fields:
                raise GatewayError(
                    400,
                    f"merge.{key} names {name!r}, not a field of the schema",
                    param=f"merge.{key}[{i}]",
                    code=ErrorCode.INVALID_VALUE,
                )
    if set(merge.concatenate) & set(merge.last):
        raise GatewayError(
            400,
            "a field cannot be both concatenated and taken from the last page",
            param="merge",
            code=ErrorCode.INVALID_VALUE,
        )
    try:
        compile_checks(definition.checks, fields=fields, prefix=CHECK_PREFIX)
    except CheckSpecError as exc:
        raise GatewayError(400, str(exc), param=exc.param, code=ErrorCode(exc.code)) from None
    stored = definition.model_dump(mode="json")
    stored["json_schema"] = schema
    stored["merge"] = merge.model_dump()
    try:
        build_spec(stored, 1)
    except (ValueError, TypeError) as exc:
        raise GatewayError(400, str(exc), param=None, code=ErrorCode.SCHEMA_INVALID) from None
    return stored


def is_builtin(name: str) -> bool:
    return name in names()
