"""`SchemaSpec`: one extraction kind's model plus what the gateway needs to run it.

The model says *what* comes back; the spec says *how to ask for it*: the instructions the
vision model reads after the image, how many crops the image gets (16 for dense single-page
OCR, 4 for scenes, as Phi-3.5-vision recommends), and a ``max_tokens`` that fits a complete
compact-JSON answer. The spec is frozen and checked on creation, so a bad registration fails
at import time, not on a user's request.

    >>> from schemas import get
    >>> spec = get("people_count")
    >>> spec.num_crops, spec.max_tokens
    (4, 64)
    >>> spec.response_format()["json_schema"]["strict"]
    True
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from schemas.checks.result import Check, CheckResult
from schemas.jsonschema import strict_json_schema
from schemas.merge import FieldMerge

__all__ = ["COMMON_RULES", "MAX_NUM_CROPS", "SchemaSpec"]

M = TypeVar("M", bound=BaseModel)

MAX_NUM_CROPS = 16
"""Phi-3.5-vision's crop limit; more crops would overflow vLLM's encoder cache sizing."""

COMMON_RULES = (
    "Reply with one JSON object that matches the given schema and nothing else. "
    "Copy text exactly as printed, in its original script. "
    "Use null for a field that is absent or unreadable and an empty list when there is "
    "nothing to list; never guess or invent values. "
    "Write dates as YYYY-MM-DD, times as 24-hour HH:MM, and amounts as plain numbers "
    "without currency symbols or thousands separators, with '.' as the decimal point."
)
"""The rules every kind shares. They belong in the system prompt, before the image, so that
they are part of the cached prefix; each kind's ``instructions`` (after the image) carry only
what is specific to it, kept short: every token after the image is recomputed per schema,
and the second and later schemas on one image should find 95% of their prompt cached. The
gateway's extraction prompt is built that way."""

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@functools.cache
def _strict_schema_text(model: type[BaseModel]) -> str:
    """Pydantic builds a model's JSON Schema in milliseconds; every extraction request needs
    one, so it is built once per model and copied by parsing the cached text."""
    return json.dumps(strict_json_schema(model))


@dataclass(frozen=True)
class SchemaSpec(Generic[M]):
    """A registered extraction kind: its name, model, prompt and decoding defaults."""

    name: str
    """URL-safe identifier (``/v1/extract/{name}``), also the OpenAI ``json_schema`` name."""
    description: str
    """One line for humans and for ``GET /v1/schemas``."""
    model: type[M]
    """The Pydantic model the answer is validated with."""
    instructions: str
    """The text the model sees after the image, before any user hint."""
    num_crops: int
    """Phi-3.5-vision crops for the image: 16 for dense OCR pages, 4 for scenes."""
    max_tokens: int
    """Default completion budget: a full answer in compact JSON fits with room to spare."""
    example: M
    """A realistic, valid instance: documentation, tests and few-shot material."""
    checks: tuple[Check, ...] = ()
    """Deterministic checks of an answer (`schemas.checks`): check digits, arithmetic, dates.
    Each returns one result, whatever the data, so a kind's list of check names is fixed."""
    max_num_crops: int = MAX_NUM_CROPS
    """The most crops that still help this kind; a repair pass re-reads the image at it."""
    merge: FieldMerge | None = None
    """How the answers for the pages of one document become one answer (`schemas.merge`);
    None: a multi-page document returns its pages only."""
    pages: Literal["each", "together"] = "each"
    """How a multi-page document is asked: one request per page (then merged), or one
    request with every page as an image (a slide deck summarised as a whole)."""

    def __post_init__(self) -> None:
        """Refuse an inconsistent spec at import time rather than at request time."""
        if not _NAME.match(self.name):
            raise ValueError(f"schema name {self.name!r} must match {_NAME.pattern}")
        if not 1 <= self.num_crops <= self.max_num_crops <= MAX_NUM_CROPS:
            raise ValueError(
                f"{self.name}: need 1 <= num_crops {self.num_crops} <= max_num_crops "
                f"{self.max_num_crops} <= {MAX_NUM_CROPS}"
            )
        if self.max_tokens < 1:
            raise ValueError(f"{self.name}: max_tokens must be positive")
        if not self.instructions.strip() or not self.description.strip():
            raise ValueError(f"{self.name}: instructions and description must not be empty")
        if not isinstance(self.example, self.model):
            raise TypeError(f"{self.name}: example is not a {self.model.__name__}")
        if self.merge is not None:
            if self.pages == "together":
                raise ValueError(f"{self.name}: pages asked together leave nothing to merge")
            self.merge.check(self.model)

    def run_checks(self, data: M) -> list[CheckResult]:
        """Every declared check's result on ``data``, in declaration order."""
        return [check(data) for check in self.checks]

    def json_schema(self) -> dict[str, Any]:
        """The strict JSON Schema sent to vLLM (a fresh copy, safe to mutate)."""
        return json.loads(_strict_schema_text(self.model))

    def response_format(self) -> dict[str, Any]:
        """The OpenAI ``response_format`` for this kind, as vLLM's guided decoding takes it."""
        return {
            "type": "json_schema",
            "json_schema": {"name": self.name, "schema": self.json_schema(), "strict": True},
        }
