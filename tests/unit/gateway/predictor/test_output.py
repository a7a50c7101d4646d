"""The one output type: a pipeline result or a chat answer, named with model and versions."""

from __future__ import annotations

import tomllib

from pydantic import BaseModel

from gateway.pipeline.models import ExtractResponse, Usage
from gateway.predictor.output import Output, from_answer, from_result, project_version
from gateway.settings import Settings
from tests.support.procs import REPO


class Tiny(BaseModel):
    total: int


def test_the_version_is_the_projects() -> None:
    with (REPO / "pyproject.toml").open("rb") as f:
        assert project_version() == tomllib.load(f)["project"]["version"]


def test_an_extraction_result_keeps_its_fields_and_a_decks_pages_become_objects() -> None:
    result = ExtractResponse[Tiny](
        id="chatcmpl-1",
        schema_name="slide_deck",
        model="phi-3.5-vision",
        data=Tiny(total=3),
        confidence={"/total": 0.9},
        checks=[],
        review=False,
        finish_reason="stop",
        usage=Usage(prompt_tokens=5, completion_tokens=2, total_tokens=7),
        pages=[1, 2],
    )
    out = from_result(result, Settings(), "rev-1")
    assert isinstance(out, Output)
    assert (out.schema, out.data, out.confidence) == ("slide_deck", {"total": 3}, {"/total": 0.9})
    assert (out.model, out.model_revision, out.version) == (
        "phi-3.5-vision",
        "rev-1",
        project_version(),
    )
    assert out.pages == [{"page": 1}, {"page": 2}] and out.text is None
    assert out.usage == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}


def test_a_chat_answer_becomes_text() -> None:
    answer = {
        "id": "chatcmpl-2",
        "choices": [{"message": {"content": "a cat"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
    }
    out = from_answer(answer, Settings(), "rev-1")
    assert (out.text, out.finish_reason, out.id) == ("a cat", "stop", "chatcmpl-2")
    assert out.data is None and out.schema is None and out.usage["completion_tokens"] == 2
