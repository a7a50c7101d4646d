"""`SchemaSpec`: one extraction kind's model plus what the gateway needs to run it.

The model says *what* comes back; the spec says *how to ask for it*: the instructions the
vision model reads after the image, how many crops the image gets (16 for dense single-page
OCR, 4 for scenes, as Phi-3.5-vision recommends), and a ``max_tokens`` that fits a complete
compact-JSON answer. It also says *how far to trust it*: the checks of an answer, each at
the scope it can be verified (one page, or the whole document), and the fields an answer
needs before anyone may act on it without a person's look. The spec is frozen and checked
on creation, so a bad registration fails at import time, not on a user's request.

    >>> from schemas import get
    >>> spec = get("people_count")
    >>> spec.num_crops, spec.max_tokens
    (4, 64)
    >>> spec.response_format()["json_schema"]["strict"]
    True
    >>> invoice = get("invoice")
    >>> invoice.missing_required(invoice.model(line_items=[], total=12.5))
    ['/invoice_number', '/invoice_date']
    >>> [r.name for r in invoice.run_checks(invoice.example, scope="page")]
    ['amounts.line_items', 'dates.due_date']
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeAlias, TypeVar

from pydantic import BaseModel

from schemas.checks.result import Check, CheckResult, Scope, ScopedCheck
from schemas.jsonschema import strict_json_schema
from schemas.merge import FieldMerge
from schemas.pointers import is_blank, resolve, split

__all__ = ["COMMON_RULES", "MAX_NUM_CROPS", "CheckScope", "SchemaSpec"]

CheckScope: TypeAlias = Scope | Literal["all"]
"""Which checks `SchemaSpec.run_checks` runs: ``"page"`` on each page of a multi-page
document, ``"document"`` on the merged document, ``"all"`` on a single image (a whole
document on one page) and wherever every check should run."""

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
    checks: tuple[ScopedCheck | Check, ...] = ()
    """Deterministic checks of an answer (`schemas.checks`): check digits, arithmetic, dates.
    Each returns one result, whatever the data, so a kind's list of check names is fixed. A
    `ScopedCheck` says whether one page can verify it (``"page"``) or only the whole
    document (``"document"``); a bare function is a page check."""
    required: tuple[str, ...] = ()
    """JSON Pointers of the fields an answer needs before it may be acted on unseen (an
    invoice's number, date and total): `missing_required` lists those left blank."""
    required_one_of: tuple[tuple[str, ...], ...] = ()
    """Groups of JSON Pointers of which an answer needs at least one each (an identity
    card prints a personal number, a card number, or both)."""
    max_num_crops: int = MAX_NUM_CROPS
    """The most crops that still help this kind; a repair pass re-reads the image at it."""
    merge: FieldMerge | None = None
    """How the answers for the pages of one document become one answer (`schemas.merge`);
    None: a multi-page document returns its pages only."""
    pages: Literal["each", "together"] = "each"
    """How a multi-page document is asked: one request per page (then merged), or one
    request with every page as an image (a slide deck summarised as a whole)."""
    transcribed: tuple[str, ...] = ()
    """JSON Pointers (``*`` for every item of a list, as `confidence` writes them:
    ``/line_items/*/amount``) of the values printed on the page (numbers, dates,
    identifiers, names, amounts, table cells), which grounding must find there
    (``docs/grounding.md``). Every other field is *derived* (a summary, a count, a risk
    level, a boolean, a code the model infers) and is never grounded."""
    version: int = 1
    """Which version of the kind this is: a built-in has one; a kind registered through the
    API (`gateway.custom`) gains one with every change, and results echo it."""

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
        elif any(self.scope_of(c) == "document" for c in self.checks):
            raise ValueError(f"{self.name}: document checks need a merge rule to run on pages")
        for pointer in (*self.required, *(p for group in self.required_one_of for p in group)):
            tokens = split(pointer)
            if not tokens or tokens[0] not in self.model.model_fields:
                raise ValueError(f"{self.name}: required {pointer!r} is not a field")
        for pointer in self.transcribed:
            tokens = split(pointer)
            if not tokens or tokens[0] not in self.model.model_fields:
                raise ValueError(f"{self.name}: transcribed {pointer!r} is not a field")

    def scope_of(self, check: ScopedCheck | Check) -> Scope:
        """The scope ``check`` declares; a bare function is a page check."""
        return check.scope if isinstance(check, ScopedCheck) else "page"

    def run_checks(self, data: M, scope: CheckScope = "all") -> list[CheckResult]:
        """The results of the checks of ``scope`` on ``data``, in declaration order.

        ``"all"`` (the default) for a single image; for a multi-page document, ``"page"`` on
        each page and ``"document"`` once on the merged data. A kind without a merge rule
        declares page checks only, so ``"page"`` runs all of them on each of its pages.
        """
        if scope not in ("page", "document", "all"):
            raise ValueError(f"scope must be 'page', 'document' or 'all', not {scope!r}")
        return [c(data) for c in self.checks if scope in ("all", self.scope_of(c))]

    def missing_required(self, data: M) -> list[str]:
        """The needed fields (`required`, and every pointer of a `required_one_of` group none
        of which was read) that ``data`` leaves blank: null, an empty string or list.

        A needed field that is missing means the answer must not be automated on.
        """
        plain = data.model_dump(mode="json")
        missing = [p for p in self.required if is_blank(resolve(plain, p))]
        for group in self.required_one_of:
            if all(is_blank(resolve(plain, p)) for p in group):
                missing += group
        return missing

    def json_schema(self) -> dict[str, Any]:
        """The strict JSON Schema sent to vLLM (a fresh copy, safe to mutate)."""
        return json.loads(_strict_schema_text(self.model))

    def response_format(self) -> dict[str, Any]:
        """The OpenAI ``response_format`` for this kind, as vLLM's guided decoding takes it."""
        return {
            "type": "json_schema",
            "json_schema": {"name": self.name, "schema": self.json_schema(), "strict": True},
        }
