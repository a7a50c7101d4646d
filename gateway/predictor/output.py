"""The predictor's one output type, and how a pipeline result or an answer becomes it.

Cog allows one return type per predictor, so one model holds both kinds of answer: with a
``schema``, the extraction result (``data``, ``confidence``, ``checks``, ``review``,
``review_reasons``; for a document or several images also ``pages`` and the merged ``data``
with its ``provenance``); without one, the model's answer in ``text``. Every output names the
served model, the checkpoint's revision and this project's version.

Cog's CLI reads this file statically (tree-sitter) when it writes the OpenAPI schema, so the
fields use only types it resolves: builtins, ``Optional``, ``list`` and ``dict``.
"""

from __future__ import annotations

import json
import tomllib
from importlib import metadata
from typing import Any, Optional  # noqa: UP035 - Cog's static schema parser reads Optional

from cog import BaseModel

from ..pipeline.models import DocumentResponse, ExtractResponse
from ..settings import Settings

__all__ = ["Output", "from_answer", "from_result", "project_version"]


class Output(BaseModel):
    """One prediction's result: an extraction (``schema`` set) or a free answer (``text``)."""

    model: str
    model_revision: str
    version: str
    usage: dict
    id: Optional[str] = None  # noqa: UP045
    schema: Optional[str] = None  # noqa: UP045
    text: Optional[str] = None  # noqa: UP045
    data: Optional[dict] = None  # noqa: UP045
    confidence: Optional[dict] = None  # noqa: UP045
    checks: Optional[list[dict]] = None  # noqa: UP045
    review: Optional[bool] = None  # noqa: UP045
    review_reasons: Optional[list[dict]] = None  # noqa: UP045
    pages: Optional[list[dict]] = None  # noqa: UP045
    page_count: Optional[int] = None  # noqa: UP045
    provenance: Optional[dict] = None  # noqa: UP045
    finish_reason: Optional[str] = None  # noqa: UP045
    grounding: Optional[dict] = None  # noqa: UP045
    grounding_engine: Optional[dict] = None  # noqa: UP045
    grounding_note: Optional[str] = None  # noqa: UP045


def project_version() -> str:
    """This project's version: the installed distribution's, else pyproject.toml's (a Cog
    image runs the checkout without installing it)."""
    try:
        return metadata.version("vision-stack")
    except metadata.PackageNotFoundError:
        from serve.profiles import REPO_ROOT

        with (REPO_ROOT / "pyproject.toml").open("rb") as f:
            return str(tomllib.load(f)["project"]["version"])


def _named(settings: Settings, revision: str) -> dict[str, Any]:
    return {"model": settings.model_name, "model_revision": revision, "version": project_version()}


def from_result(
    result: ExtractResponse[Any] | DocumentResponse[Any], settings: Settings, revision: str
) -> Output:
    """An extraction result as the output: the wire model's JSON, field by field."""
    body = json.loads(result.model_dump_json(by_alias=True))
    pages = body.get("pages")
    if isinstance(result, ExtractResponse) and pages is not None:
        pages = [{"page": n} for n in pages]  # a deck read in one call: the pages sent
    return Output(
        **_named(settings, revision),
        usage=body["usage"],
        id=body.get("id"),
        schema=body.get("schema"),
        data=body.get("data"),
        confidence=body.get("confidence"),
        checks=body.get("checks"),
        review=body.get("review"),
        review_reasons=body.get("review_reasons"),
        pages=pages,
        page_count=body.get("page_count"),
        provenance=body.get("provenance"),
        finish_reason=body.get("finish_reason"),
        grounding=body.get("grounding"),
        grounding_engine=body.get("grounding_engine"),
        grounding_note=body.get("grounding_note"),
    )


def from_answer(answer: dict[str, Any], settings: Settings, revision: str) -> Output:
    """A chat completion (a free prompt) as the output: its text, finish reason and usage."""
    choice = answer["choices"][0]
    return Output(
        **_named(settings, revision),
        usage=dict(answer.get("usage") or {}),
        id=str(answer.get("id", "")),
        text=str(choice["message"].get("content") or ""),
        finish_reason=str(choice.get("finish_reason")),
    )
