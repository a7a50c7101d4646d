"""A multi-page document is judged at the right level: each page by the checks a page can
verify alone, the merged document by the rest and by the fields the schema needs; a repair
re-reads only the pages that hold a failed check's fields.

The answers are scripted per page (the random-weight engine cannot write an invoice that
adds up); the pipeline runs as every caller runs it, through its entry point.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.pipeline import extract, lookup_schema
from gateway.pipeline.models import DocumentResponse, ExtractRequest
from tests.support.scripted_upstream import ScriptedUpstream

from .conftest import MakeContext, page_images

pytestmark = pytest.mark.anyio

INVOICE = lookup_schema("invoice")


def _two_pages() -> tuple[dict[str, Any], dict[str, Any]]:
    """The example invoice split the way a printer splits it: the header and the first two
    lines on page 1; the third line and every total on page 2."""
    whole = INVOICE.example.model_dump(mode="json")
    lists = ("line_items", "discounts", "charges", "tax_lines")
    totals = ("subtotal", "tax", "rounding", "total", "amount_paid", "amount_due")
    first = {k: v for k, v in whole.items() if k not in totals} | {
        "line_items": whole["line_items"][:2],
        "charges": [],
        "tax_lines": [],
    }
    second = {k: None for k in whole if k not in lists} | {k: whole[k] for k in totals}
    second |= {
        "line_items": whole["line_items"][2:],
        "discounts": [],
        "charges": whole["charges"],
        "tax_lines": whole["tax_lines"],
        "prices_include_tax": whole["prices_include_tax"],
        "currency": whole["currency"],
    }
    return first, second


async def _run(
    make_context: MakeContext, pages: list[Any], **fields: Any
) -> tuple[DocumentResponse[Any], ScriptedUpstream]:
    upstream = ScriptedUpstream({})
    ctx = make_context(upstream)
    source = await page_images(ctx, len(pages))
    assert isinstance(source, list)
    for image, answer in zip(source, pages, strict=True):
        upstream.answers[image.digest] = answer if callable(answer) else json.dumps(answer)
    req = ExtractRequest(image_urls=["x"] * len(pages), confidence=False, **fields)
    result = await extract(ctx, INVOICE, req, source, 4)
    assert isinstance(result, DocumentResponse)
    return result, upstream


async def test_pages_that_add_up_only_together_need_no_review(make_context: MakeContext) -> None:
    first, second = _two_pages()
    result, _ = await _run(make_context, [first, second])
    assert result.data == INVOICE.example
    page_checks = {c["name"] for page in result.pages for c in page.model_dump()["checks"]}
    assert "amounts.subtotal" not in page_checks and "amounts.total" not in page_checks
    assert all(page.model_dump()["review"] is False for page in result.pages)
    assert {c.name for c in result.checks or []} >= {"amounts.subtotal", "amounts.total"}
    assert all(c.status == "pass" for c in result.checks or [])
    assert result.review is False and result.review_reasons == []


async def test_the_merged_document_keeps_the_page_of_every_value(
    make_context: MakeContext,
) -> None:
    first, second = _two_pages()
    result, _ = await _run(make_context, [first, second])
    provenance = result.provenance or {}
    assert provenance["/invoice_number"] == 1 and provenance["/total"] == 2
    assert [provenance[f"/line_items/{i}"] for i in range(3)] == [1, 1, 2]


async def test_a_total_misread_on_the_last_page_fails_the_document(
    make_context: MakeContext,
) -> None:
    first, second = _two_pages()
    second["total"] = round(second["total"] + 0.01, 2)
    result, _ = await _run(make_context, [first, second])
    failed = [c.name for c in result.checks or [] if c.status == "fail"]
    assert "amounts.total" in failed
    assert result.review is True
    assert any(
        r.kind == "check_failed" and r.subject == "amounts.total" for r in result.review_reasons
    )


async def test_repair_rereads_only_the_page_that_holds_the_failed_fields(
    make_context: MakeContext,
) -> None:
    first, second = _two_pages()
    misread = dict(second, total=round(second["total"] + 0.01, 2))
    readings = iter([misread, second])

    def page_two(body: dict[str, Any]) -> str:
        return json.dumps(next(readings))

    result, upstream = await _run(make_context, [first, page_two], verify="repair")
    assert sorted(upstream.calls.values()) == [1, 2]  # page 1 once, page 2 twice
    assert result.repair is not None and result.repair.chosen == 1
    assert result.repair.attempts[1].pages == [2]
    assert result.review is False and result.data == INVOICE.example
    told = [b for b in upstream.bodies if "A check of an earlier reading" in json.dumps(b)]
    assert len(told) == 1  # only the repair reading carries the note


async def test_a_document_where_nothing_was_read_goes_to_review(
    make_context: MakeContext,
) -> None:
    blank = {"line_items": []}
    result, _ = await _run(make_context, [blank, blank])
    missing = {r.subject for r in result.review_reasons if r.kind == "missing_field"}
    assert missing == {"/invoice_number", "/invoice_date", "/total"}
    assert result.review is True
