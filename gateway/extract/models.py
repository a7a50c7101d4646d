"""Wire models of the extraction API: what clients send and the typed answers they get.

``ExtractResponse[Passport]`` and its siblings are generated per registered schema, so the
OpenAPI document shows the real type of ``data`` for every route and generated clients get
real classes instead of ``object``.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.checks import CheckResult

from .repair import Repair
from .verdict import CheckList, ConfidenceMap, Review

__all__ = [
    "ExtractError",
    "ExtractRequest",
    "ExtractResponse",
    "MultiExtractRequest",
    "MultiExtractResponse",
    "SchemaInfo",
    "SchemaList",
    "SchemaOutcome",
    "Usage",
    "VerifyResponse",
]

T = TypeVar("T", bound=BaseModel)


class ExtractRequest(BaseModel):
    """One image and optional guidance. Also accepted as multipart/form-data with the image
    as a file part named ``image`` and the other fields as form fields."""

    model_config = ConfigDict(extra="forbid")

    image_url: str = Field(
        min_length=1,
        description="The image: an http(s) URL (fetched by the gateway) or a data: URL.",
    )
    hint: str | None = Field(
        default=None,
        max_length=4000,
        description="Extra guidance appended to the schema's instructions, e.g. "
        "'German invoice, amounts in EUR'. Empty or blank means no hint.",
    )
    num_crops: int | None = Field(
        default=None,
        description="336-px tiles for the image, within the gateway's range "
        "(GATEWAY_NUM_CROPS_MIN..MAX, 1..16 by default); default: the schema's recommendation "
        "(16 for dense documents, 4 for scenes), clamped to that range.",
    )
    max_tokens: int | None = Field(
        default=None,
        description="Answer budget, at most GATEWAY_MAX_TOKENS_CAP; default: the schema's "
        "recommendation, clamped to that cap.",
    )
    temperature: float = Field(
        default=0.0, ge=0.0, le=2.0, description="0 gives the most literal transcription."
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=2**63 - 1,
        description="Sampling seed: with temperature > 0 the same seed gives the same answer.",
    )
    confidence: bool = Field(
        default=True,
        description="Per-field confidence from the engine's token log-probabilities; false "
        "skips the logprobs for the cheapest request (then `confidence` is null).",
    )
    review_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="`review` is true when any field's confidence is under this; default: "
        "GATEWAY_REVIEW_THRESHOLD.",
    )
    verify: Literal["checks", "repair"] = Field(
        default="checks",
        description="'checks' runs the schema's checks; 'repair' also reads the image once "
        "more (at the schema's largest useful num_crops, told what failed) when a check "
        "fails, and returns the better reading. At most one extra call per schema.",
    )


class MultiExtractRequest(ExtractRequest):
    """Several schemas on one image, run concurrently; the image is checked once and its KV
    blocks are shared through vLLM's prefix cache."""

    schemas: list[str] = Field(
        min_length=1, max_length=16, description="Registered schema names, e.g. ['passport']."
    )
    max_tokens: int | None = Field(
        default=None,
        description="Answer budget per schema, at most GATEWAY_MAX_TOKENS_CAP; default: each "
        "schema's own, clamped to that cap.",
    )


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ExtractResponse(BaseModel, Generic[T]):
    """A validated, typed extraction with its confidence, checks and review flag."""

    id: str = Field(description="The completion id from the engine.")
    object: Literal["extraction"] = "extraction"
    schema_name: str = Field(serialization_alias="schema", description="The schema used.")
    model: str
    data: T
    confidence: ConfidenceMap = None
    checks: CheckList
    review: Review
    finish_reason: str
    usage: Usage = Field(description="Tokens of every reading, a repair reading included.")
    repair: Repair | None = Field(
        default=None, description="Both readings when `verify: 'repair'` read the image again."
    )


class ExtractError(BaseModel):
    """The OpenAI-shaped error of one schema in a multi-schema extraction."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None
    details: dict[str, Any] | None = None


class SchemaOutcome(BaseModel):
    """Either ``data`` (valid, with its verdict) or ``error`` for one schema of a
    multi-schema extraction."""

    status: int = Field(description="The HTTP status this schema alone would have had.")
    data: dict[str, Any] | None = None
    confidence: ConfidenceMap = None
    checks: CheckList | None = None
    review: Review | None = None
    repair: Repair | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    error: ExtractError | None = None


class VerifyResponse(BaseModel):
    """The schema's checks on a caller's object (``POST /v1/verify/{name}``)."""

    object: Literal["verification"] = "verification"
    schema_name: str = Field(serialization_alias="schema", description="The schema used.")
    checks: list[CheckResult] = Field(description="Each check: pass, fail or skipped.")
    review: bool = Field(description="True when any check failed.")


class MultiExtractResponse(BaseModel):
    object: Literal["extraction.multi"] = "extraction.multi"
    model: str
    results: dict[str, SchemaOutcome] = Field(description="By schema name, in request order.")


class SchemaInfo(BaseModel):
    name: str
    description: str
    num_crops: int = Field(description="Recommended 336-px tiles for this kind of image.")
    max_tokens: int = Field(description="Default answer budget.")
    json_schema: dict[str, Any] = Field(description="The strict JSON Schema of ``data``.")


class SchemaList(BaseModel):
    object: Literal["list"] = "list"
    data: list[SchemaInfo]
