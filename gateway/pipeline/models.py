"""Wire models of the extraction API: what clients send and the typed answers they get.

``ExtractResponse[Passport]`` and its siblings are generated per registered schema, so the
OpenAPI document shows the real type of ``data`` for every route and generated clients get
real classes instead of ``object``.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.checks import CheckResult

from ..trust.repair import Repair
from ..trust.verdict import CheckList, ConfidenceMap, Review, ReviewReasons

__all__ = [
    "DocumentPreview",
    "PagePreview",
    "PreviewRequest",
    "ExtractError",
    "ExtractRequest",
    "ExtractResponse",
    "GroundingBox",
    "GroundingEngine",
    "GroundingMap",
    "MultiExtractRequest",
    "MultiExtractResponse",
    "SchemaInfo",
    "SchemaList",
    "SchemaOutcome",
    "DocumentResponse",
    "PageResult",
    "Usage",
    "VerifyResponse",
]

T = TypeVar("T", bound=BaseModel)


class GroundingBox(BaseModel):
    """Where one transcribed value was found on the page."""

    page: int = Field(description="The document's own page number (1 for a single image).")
    boxes: list[list[float]] = Field(
        description="[x0, y0, x1, y1] per word, fractions of the page's width and height as "
        "displayed (after a PDF's /Rotate and crop box, after EXIF orientation), origin "
        "top-left."
    )
    text: str = Field(description="The words as found on the page.")
    source: Literal["pdf_text", "ocr"] = Field(description="The PDF's text layer, or OCR.")
    score: float = Field(description="Similarity of the value and the words, 0-1.")


GroundingMap = Annotated[
    dict[str, GroundingBox | None] | None,
    Field(
        description="JSON Pointer of each non-null transcribed leaf of `data` (pointers as "
        "`confidence` writes them) → where it was found on the page, or null where it was "
        "not found. Null when the result was not grounded (`grounding: false`, or under "
        "GATEWAY_GROUNDING_DEFAULT=text_layer an image or a page without a text layer, or the "
        "page could not be read: then `grounding_note` says why)."
    ),
]


class GroundingEngine(BaseModel):
    """The OCR engine that read the page's words."""

    name: str = Field(description="e.g. 'tesseract'.")
    version: str = Field(description="e.g. '5.5.4'.")


GroundingEngineField = Annotated[
    GroundingEngine | None,
    Field(description="The OCR engine that read the words; null when none was used."),
]
GroundingNote = Annotated[
    str | None,
    Field(description="Why (part of) the result is not grounded: OCR past its time cap, ..."),
]


class ExtractRequest(BaseModel):
    """One image or document, or a list of images, and optional guidance. Also accepted as
    multipart/form-data with the image or document as a file part named ``image`` and the
    other fields as form fields."""

    model_config = ConfigDict(extra="forbid")

    image_url: str | None = Field(
        default=None,
        min_length=1,
        description="The image, or a PDF or multi-page TIFF document: an http(s) URL (fetched "
        "by the gateway) or a data: URL (data:application/pdf;base64,...).",
    )
    image_urls: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Several images read as the pages of one document (or the slides of a "
        "deck), in order; instead of image_url. At most GATEWAY_MAX_IMAGES_PER_REQUEST.",
    )
    pages: str | None = Field(
        default=None,
        max_length=256,
        description="For a PDF or TIFF: the pages to read, 1-based, e.g. '1-3,5' or '2-'; "
        "default: every page (at most GATEWAY_DOCUMENT_MAX_PAGES).",
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
    temperature: float | None = Field(
        default=None,
        ge=0.0,
        le=2.0,
        description="0 gives the most literal transcription; default: "
        "GATEWAY_EXTRACT_DEFAULT_TEMPERATURE (0.0; `make dev` samples on its random-weight "
        "engine).",
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=2**63 - 1,
        description="Sampling seed: with temperature > 0 the same seed gives the same answer; "
        "default: GATEWAY_EXTRACT_DEFAULT_SEED (none).",
    )
    top_p: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="Nucleus sampling: only the most likely tokens whose probabilities add up "
        "to this are sampled (with temperature > 0); default: the engine's (1).",
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
    schema_version: int | None = Field(
        default=None,
        ge=1,
        description="The version of a registered schema to use (PUT /v1/schemas/{name} adds "
        "versions); default: the latest. A built-in has one version, 1.",
    )
    verify: Literal["checks", "repair"] = Field(
        default="checks",
        description="'checks' runs the schema's checks; 'repair' also reads the image once "
        "more (at the schema's largest useful num_crops, told what failed) when a check "
        "fails, and returns the better reading. At most one extra call per schema.",
    )
    grounding: bool | None = Field(
        default=None,
        description="Find where on the page each transcribed value is printed (`grounding` "
        "in the result, and a `grounding` check that fails for a value printed nowhere on a "
        "page read well): true reads images and scanned pages by OCR, false skips it; "
        "default: GATEWAY_GROUNDING_DEFAULT (text_layer: only PDF pages with a text layer).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.image_url is None) == (self.image_urls is None):
            raise ValueError("send exactly one of image_url (or an 'image' upload) and image_urls")
        return self


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

    @classmethod
    def total(cls, usages: list[Usage]) -> Usage:
        """The sum over several calls (the pages of a document)."""
        return cls(
            prompt_tokens=sum(u.prompt_tokens for u in usages),
            completion_tokens=sum(u.completion_tokens for u in usages),
            total_tokens=sum(u.total_tokens for u in usages),
        )


class ExtractResponse(BaseModel, Generic[T]):
    """A validated, typed extraction with its confidence, checks and review flag."""

    id: str = Field(description="The completion id from the engine.")
    object: Literal["extraction"] = "extraction"
    schema_name: str = Field(serialization_alias="schema", description="The schema used.")
    schema_version: int = Field(default=1, description="The version of the schema used.")
    model: str
    data: T
    confidence: ConfidenceMap = None
    checks: CheckList
    review: Review
    review_reasons: ReviewReasons = []
    finish_reason: str
    usage: Usage = Field(description="Tokens of every reading, a repair reading included.")
    repair: Repair | None = Field(
        default=None, description="Both readings when `verify: 'repair'` read the image again."
    )
    pages: list[int] | None = Field(
        default=None,
        description="For a schema that reads all pages together (slide_deck): the page "
        "numbers sent, in order; null for a single image.",
    )
    grounding: GroundingMap = None
    grounding_engine: GroundingEngineField = None
    grounding_note: GroundingNote = None


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
    schema_version: int | None = Field(
        default=None, description="The version of the schema used; null when it failed."
    )
    data: dict[str, Any] | None = None
    confidence: ConfidenceMap = None
    checks: CheckList | None = None
    review: Review | None = None
    review_reasons: ReviewReasons | None = None
    repair: Repair | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    error: ExtractError | None = None
    grounding: GroundingMap = None
    grounding_engine: GroundingEngineField = None
    grounding_note: GroundingNote = None
    pages: list[dict[str, Any]] | None = Field(
        default=None,
        description="For a document: one result per page, as in the single-schema route; "
        "``data`` is then the merged document (null for kinds without a merge rule).",
    )


class VerifyResponse(BaseModel):
    """The schema's checks on a caller's object (``POST /v1/verify/{name}``)."""

    object: Literal["verification"] = "verification"
    schema_name: str = Field(serialization_alias="schema", description="The schema used.")
    schema_version: int = Field(default=1, description="The version of the schema used.")
    checks: list[CheckResult] = Field(description="Each check: pass, fail or skipped.")
    review: bool = Field(
        description="True when any check failed or a field the schema needs is null."
    )
    review_reasons: ReviewReasons = []
    grounding: GroundingMap = None
    grounding_engine: GroundingEngineField = None
    grounding_note: GroundingNote = None


class MultiExtractResponse(BaseModel):
    object: Literal["extraction.multi"] = "extraction.multi"
    model: str
    results: dict[str, SchemaOutcome] = Field(description="By schema name, in request order.")


class PageResult(BaseModel, Generic[T]):
    """One page of a document: its ``data`` or its ``error``. Open to more per-page fields
    (confidence, checks) as the pipeline grows."""

    model_config = ConfigDict(extra="allow")

    page: int = Field(description="1-based page number in the document.")
    status: int = Field(default=200, description="The HTTP status this page alone would have.")
    data: T | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    error: ExtractError | None = None


class DocumentResponse(BaseModel, Generic[T]):
    """A multi-page document: one result per page, and the merged document where the schema
    declares how its pages merge."""

    id: str = Field(description="An id for this document extraction.")
    object: Literal["extraction.document"] = "extraction.document"
    schema_name: str = Field(serialization_alias="schema", description="The schema used.")
    schema_version: int = Field(default=1, description="The version of the schema used.")
    model: str
    page_count: int = Field(description="Pages in the document, selected or not.")
    pages: list[PageResult[T]] = Field(description="The selected pages, in document order.")
    data: T | None = Field(
        default=None,
        description="The whole document, merged from the pages that succeeded by the "
        "schema's rule; null for kinds without one, or when no page succeeded.",
    )
    merge_rule: str | None = Field(default=None, description="The schema's merge rule.")
    checks: list[CheckResult] | None = Field(
        default=None,
        description="The schema's document checks on the merged `data` (an invoice's lines "
        "against its totals across pages); null when nothing was merged. Each page has the "
        "checks a page can verify alone.",
    )
    review: bool = Field(
        default=False,
        description="True when any page needs review, a page failed, a check of the merged "
        "document failed, or a field the schema needs is missing from it.",
    )
    review_reasons: ReviewReasons = []
    provenance: dict[str, int] | None = Field(
        default=None,
        description="JSON Pointer of each top-level field and list item of the merged `data` "
        "→ the page it came from; null when nothing was merged.",
    )
    repair: Repair | None = Field(
        default=None,
        description="With `verify: 'repair'` and a failed document check: the document's "
        "checks before and after the pages holding its fields were read again.",
    )
    grounding: GroundingMap = Field(
        default=None,
        description="The merged `data`'s grounding: each value's from the page it came from "
        "(`provenance`); each page has its own. Null when not grounded.",
    )
    grounding_engine: GroundingEngineField = None
    grounding_note: GroundingNote = None
    usage: Usage = Field(description="The sum over every page.")


class SchemaInfo(BaseModel):
    name: str
    description: str
    num_crops: int = Field(description="Recommended 336-px tiles for this kind of image.")
    max_tokens: int = Field(description="Default answer budget.")
    json_schema: dict[str, Any] = Field(description="The strict JSON Schema of ``data``.")
    builtin: bool = Field(default=True, description="False for a schema registered via the API.")
    version: int = Field(default=1, description="This version of the schema.")
    instructions: str | None = Field(default=None, description="Registered schemas: the prompt.")
    merge: dict[str, Any] | None = Field(default=None, description="Registered: the merge rule.")
    checks: list[dict[str, Any]] | None = Field(
        default=None, description="Registered schemas: the checks as declared."
    )
    transcribed: list[str] | None = None
    required: list[str] | None = None
    created_by: str | None = Field(
        default=None, description="Registered schemas: the name of the key that stored it."
    )
    created_at: float | None = Field(default=None, description="Unix time it was stored.")


class SchemaList(BaseModel):
    object: Literal["list"] = "list"
    data: list[SchemaInfo]


class PreviewRequest(BaseModel):
    """A PDF or TIFF to show as page thumbnails. Also accepted as multipart/form-data with the
    document as a file part named ``image``, like the extraction routes."""

    model_config = ConfigDict(extra="forbid")

    image_url: str = Field(
        min_length=1,
        description="The PDF or multi-page TIFF: an http(s) URL (fetched by the gateway) or a "
        "data: URL (data:application/pdf;base64,...).",
    )
    pages: str | None = Field(
        default=None,
        max_length=256,
        description="The pages to show, 1-based, e.g. '1-3,5'; default: the first "
        "GATEWAY_DOCUMENT_MAX_PAGES pages (page_count says how many there are in all).",
    )
    max_side: int = Field(
        default=256,
        ge=32,
        le=1024,
        description="Pixels of a thumbnail's longer side; pages are never enlarged.",
    )


class PagePreview(BaseModel):
    page: int = Field(description="1-based page number in the document.")
    width: int = Field(description="Pixels of the thumbnail.")
    height: int
    image_url: str = Field(description="The thumbnail: a data:image/jpeg;base64 URL.")


class DocumentPreview(BaseModel):
    """Thumbnails of a document's pages, rendered by the same renderer the extraction uses."""

    object: Literal["document.preview"] = "document.preview"
    kind: Literal["pdf", "tiff"]
    page_count: int = Field(description="Pages in the document, shown or not.")
    pages: list[PagePreview] = Field(description="The pages shown, in document order.")
