"""The wire models of a document extraction: typed pages that keep what later stages add."""

from __future__ import annotations

import json

import schemas
from gateway.pipeline.models import DocumentResponse, PageResult, Usage

INVOICE = schemas.get("invoice")
USAGE = Usage(prompt_tokens=900, completion_tokens=40, total_tokens=940)


def test_a_page_keeps_extra_fields_such_as_confidence() -> None:
    page = PageResult[INVOICE.model](  # type: ignore[name-defined]
        page=2, data=INVOICE.example.model_dump(), finish_reason="stop", usage=USAGE,
        confidence={"total": 0.9}, review=False,
    )  # fmt: skip
    dumped = json.loads(page.model_dump_json())
    assert dumped["page"] == 2 and dumped["data"]["total"] == INVOICE.example.total
    assert dumped["confidence"] == {"total": 0.9} and dumped["review"] is False


def test_a_document_response_serialises_with_the_schema_alias_and_summed_usage() -> None:
    model = INVOICE.model
    pages = [
        PageResult[model](page=1, data=INVOICE.example, usage=USAGE),  # type: ignore[valid-type]
        PageResult[model](page=2, status=422, error={"message": "cut", "type": "t"}),  # type: ignore[valid-type]
    ]
    response = DocumentResponse[model](  # type: ignore[valid-type]
        id="doc-1", schema_name="invoice", model="m", page_count=5,
        pages=[json.loads(p.model_dump_json()) for p in pages], data=INVOICE.example,
        usage=Usage.total([USAGE, USAGE]),
    )  # fmt: skip
    body = json.loads(response.model_dump_json(by_alias=True))
    assert body["schema"] == "invoice" and body["object"] == "extraction.document"
    assert [p["page"] for p in body["pages"]] == [1, 2]
    assert body["pages"][1]["error"]["message"] == "cut"
    assert body["usage"] == {"prompt_tokens": 1800, "completion_tokens": 80, "total_tokens": 1880}
