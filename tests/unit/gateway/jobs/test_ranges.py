"""A job's page ranges, its ``Prefer`` header, and a page's outcome stored and read back."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

import schemas
from gateway.errors import ErrorCode, GatewayError
from gateway.jobs.runner import page_ranges
from gateway.jobs.submit import prefers_async
from gateway.pipeline.models import ExtractResponse, Usage
from gateway.pipeline.ranges import page_outcome, page_record


def test_pages_are_cut_into_ranges_of_the_set_size() -> None:
    plans = page_ranges(list(range(1, 20)), 8)
    assert [(p.pages, p.count) for p in plans] == [("1-8", 8), ("9-16", 8), ("17-19", 3)]
    gaps = page_ranges([1, 2, 5, 7, 8, 9], 4)
    assert [(p.pages, p.count) for p in gaps] == [("1-2,5,7", 4), ("8-9", 2)]


def _request(prefer: str | None) -> Request:
    headers = [] if prefer is None else [(b"prefer", prefer.encode())]
    return Request({"type": "http", "headers": headers})


@pytest.mark.parametrize(
    ("prefer", "wanted"),
    [
        ("respond-async", True),
        ("wait=10, respond-async", True),
        ("respond-async; wait=5", True),
        ("Respond-Async", True),
        (None, False),
        ("return=minimal", False),
        ("respond-asynchronously", False),
    ],
)
def test_prefer_respond_async(prefer: str | None, wanted: bool) -> None:
    assert prefers_async(_request(prefer)) is wanted


def test_a_page_outcome_is_stored_and_read_back_unchanged() -> None:
    spec = schemas.get("table")
    answer: Any = ExtractResponse[spec.model](  # type: ignore[name-defined]
        id="chatcmpl-1",
        schema_name="table",
        schema_version=1,
        model="m",
        data=spec.example,
        checks=[],
        review=False,
        review_reasons=[],
        finish_reason="stop",
        usage=Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3),
    )
    assert page_outcome(spec, page_record(answer)) == answer
    error = GatewayError(
        422, "cut off", param="max_tokens", code=ErrorCode.OUTPUT_TRUNCATED, details={"a": 1}
    )
    back = page_outcome(spec, page_record(error))
    assert isinstance(back, GatewayError)
    assert (back.status, back.body()) == (422, error.body())
