"""PDFs and multi-page TIFFs through the extraction API, on the real gateway and engine.

Every document here is made by the test (Pillow writes the PDFs and TIFFs; the encrypted and
empty PDFs are assembled by hand). Pages are read at num_crops 4 to keep CI fast; the render
size for other crop counts is covered by the unit tests.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import schemas
from tests.support.documents import (
    encrypted_pdf,
    invoice_pages,
    no_pages_pdf,
    pdf_bytes,
    photo_page,
    text_page,
    tiff_bytes,
)
from tests.support.gateway_server import GatewayServer, start_gateway
from tests.support.images import data_url, make_image

pytestmark = pytest.mark.engine

SAMPLED = {"temperature": 1.0, "seed": 7, "num_crops": 4}
"""Sampling with a fixed seed ends the random model's lists (see test_extract.py)."""
INVOICE_PDF = pdf_bytes(invoice_pages(3))


def pdf_url(data: bytes) -> str:
    return "data:application/pdf;base64," + base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def api(engine_gateway: GatewayServer) -> Iterator[httpx.Client]:
    key = engine_gateway.create_key("document-tests", scopes=["chat", "extract"])
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=engine_gateway.base_url, headers=headers, timeout=300) as c:
        yield c


@pytest.fixture(scope="module")
def tight(vllm_engine: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A gateway with small document caps, for the refusals that need big documents."""
    gw = start_gateway(
        vllm_engine.base_url,  # type: ignore[attr-defined]
        tmp_path_factory.mktemp("gw-documents"),
        GATEWAY_DOCUMENT_MAX_PAGES="2",
        GATEWAY_DOCUMENT_MAX_BYTES="1000000",
        GATEWAY_DOCUMENT_MAX_PAGE_PIXELS="100000",
    )
    key = gw.create_key("tight", scopes=["extract"])
    try:
        with httpx.Client(
            base_url=gw.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120
        ) as client:
            yield client
    finally:
        gw.stop()


def error_of(r: httpx.Response, status: int, code: str, param: str) -> str:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert (error["code"], error["param"]) == (code, param), error
    return str(error["message"])


def test_a_three_page_invoice_pdf_gives_three_pages_and_a_merged_invoice(
    api: httpx.Client,
) -> None:
    r = api.post("/v1/extract/invoice", json={"image_url": pdf_url(INVOICE_PDF), **SAMPLED})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "extraction.document" and body["schema"] == "invoice"
    assert body["page_count"] == 3
    assert [p["page"] for p in body["pages"]] == [1, 2, 3]
    invoice = schemas.get("invoice").model
    good = [p for p in body["pages"] if p["status"] == 200]
    assert good, body["pages"]  # seeded sampling ends the answers; errors would be 422s
    for page in body["pages"]:
        if page["status"] == 200:
            invoice.model_validate(page["data"])
            assert page["finish_reason"] == "stop"
        else:
            assert page["error"]["code"] in ("output_truncated", "output_invalid")
    merged = invoice.model_validate(body["data"])
    assert len(merged.line_items) == sum(len(p["data"]["line_items"]) for p in good)
    assert "line_items, discounts, charges, tax_lines concatenated" in body["merge_rule"]
    for field in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert body["usage"][field] == sum(p["usage"][field] for p in good)
    # each page reached the model as an image at 4 crops (>= 757 tokens each)
    assert all(p["usage"]["prompt_tokens"] > 757 for p in good)


def test_a_multi_page_tiff_upload_with_a_page_selection(api: httpx.Client) -> None:
    tiff = tiff_bytes([text_page(1), text_page(2).convert("1"), text_page(3)])
    files = {"image": ("scan.tiff", tiff, "image/tiff")}
    fields = {"pages": "2-3", **{k: str(v) for k, v in SAMPLED.items()}}
    r = api.post("/v1/extract/table", files=files, data=fields)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["page_count"] == 3 and [p["page"] for p in body["pages"]] == [2, 3]
    if any(p["status"] == 200 for p in body["pages"]):
        schemas.get("table").model.model_validate(body["data"])


def test_a_kind_without_a_merge_rule_returns_pages_only(api: httpx.Client) -> None:
    r = api.post(
        "/v1/extract/people_count",
        json={"image_url": pdf_url(INVOICE_PDF), "pages": "1,3", **SAMPLED},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [p["page"] for p in body["pages"]] == [1, 3]
    assert body["data"] is None and body["merge_rule"] is None


def test_a_pdf_fetched_from_a_url(api: httpx.Client, image_server: str) -> None:
    r = api.post(
        "/v1/extract/people_count", json={"image_url": image_server + "/invoice.pdf", **SAMPLED}
    )
    assert r.status_code == 200, r.text
    assert r.json()["page_count"] == 2


def test_several_schemas_on_one_document(api: httpx.Client) -> None:
    r = api.post(
        "/v1/extract",
        json={
            "image_url": pdf_url(INVOICE_PDF),
            "schemas": ["invoice", "people_count"],
            "pages": "1-2",
            **SAMPLED,
        },  # fmt: skip
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [p["page"] for p in results["invoice"]["pages"]] == [1, 2]
    assert [p["page"] for p in results["people_count"]["pages"]] == [1, 2]
    assert results["people_count"]["data"] is None


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (encrypted_pdf(), "document_encrypted"),
        (no_pages_pdf(), "document_no_pages"),
        (INVOICE_PDF[: len(INVOICE_PDF) // 2], "document_truncated"),
        (b"%PDF-1.4\n1 0 obj <</Type /Catalog>> broken\n%%EOF\n", "document_corrupt"),
    ],
)
def test_unreadable_pdfs_are_400s_naming_the_problem(
    api: httpx.Client, document: bytes, code: str
) -> None:
    r = api.post("/v1/extract/invoice", json={"image_url": pdf_url(document)})
    error_of(r, 400, code, "image_url")
    upload = api.post("/v1/extract/invoice", files={"image": ("x.pdf", document, "x/y")})
    error_of(upload, 400, code, "image")


@pytest.mark.parametrize(
    ("pages", "code", "needle"),
    [
        ("1-x", "document_bad_page_selection", "like '1-3,5'"),
        ("0", "document_bad_page_selection", "from 1"),
        ("2-4", "document_page_out_of_range", "selects 2-4 but the document has 3 page(s)"),
    ],
)
def test_bad_page_selections_are_400s(
    api: httpx.Client, pages: str, code: str, needle: str
) -> None:
    r = api.post("/v1/extract/invoice", json={"image_url": pdf_url(INVOICE_PDF), "pages": pages})
    assert needle in error_of(r, 400, code, "pages")


def test_pages_on_a_single_image_is_a_400(api: httpx.Client) -> None:
    r = api.post(
        "/v1/extract/invoice", json={"image_url": data_url(make_image(64, 64)), "pages": "1"}
    )
    error_of(r, 400, "invalid_value", "pages")


def test_too_many_pages_names_the_setting(tight: httpx.Client) -> None:
    r = tight.post("/v1/extract/invoice", json={"image_url": pdf_url(INVOICE_PDF)})
    message = error_of(r, 413, "document_too_many_pages", "image_url")
    assert "GATEWAY_DOCUMENT_MAX_PAGES" in message and "'1-2'" in message


def test_too_many_bytes_names_the_setting(tight: httpx.Client) -> None:
    big = pdf_bytes([photo_page(n) for n in range(3)])
    assert len(big) > 1_000_000 > len(INVOICE_PDF)
    r = tight.post("/v1/extract/invoice", files={"image": ("big.pdf", big, "application/pdf")})
    assert "GATEWAY_DOCUMENT_MAX_BYTES" in error_of(r, 413, "document_too_large", "image")


def test_too_many_pixels_names_the_setting(tight: httpx.Client) -> None:
    r = tight.post("/v1/extract/invoice", json={"image_url": pdf_url(INVOICE_PDF), "pages": "1"})
    message = error_of(r, 413, "document_page_too_many_pixels", "image_url")
    assert "GATEWAY_DOCUMENT_MAX_PAGE_PIXELS" in message


def test_too_slow_a_render_names_the_setting(vllm_engine: object, tmp_path: Path) -> None:
    gw = start_gateway(
        vllm_engine.base_url,  # type: ignore[attr-defined]
        tmp_path,
        GATEWAY_DOCUMENT_RENDER_TIMEOUT_S="0.000001",
    )
    try:
        key = gw.create_key("slow", scopes=["extract"])
        r = httpx.post(
            gw.base_url + "/v1/extract/invoice",
            json={"image_url": pdf_url(INVOICE_PDF)},
            headers={"Authorization": f"Bearer {key}"},
            timeout=120,
        )
        message = error_of(r, 413, "document_render_timeout", "image_url")
        assert "GATEWAY_DOCUMENT_RENDER_TIMEOUT_S" in message
    finally:
        gw.stop()


def test_a_pdf_sent_to_chat_points_to_the_extraction_api(api: httpx.Client) -> None:
    r = api.post(
        "/v1/chat/completions",
        json={
            "model": "phi-3.5-vision",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": pdf_url(INVOICE_PDF)}},
                        {"type": "text", "text": "Summarise."},
                    ],
                }
            ],  # fmt: skip
        },
    )
    message = error_of(r, 400, "document_needs_extraction", "messages[0].content[0].image_url")
    assert "/v1/extract/" in message and "PDF" in message
