"""Grounding through the gateway's extraction routes, with an upstream scripted to answer the
true values of our generated pages (`tests.support.pages`, whose word boxes are known): every
transcribed field is found on the right page where the page printed it, an invented value is
not (the ``grounding`` check fails and sends the result to review), OCR past its time cap
leaves the result ungrounded with a note while the gateway keeps serving, and the request
flag and ``GATEWAY_GROUNDING_DEFAULT`` decide what is grounded.

The upstream is replaced in the app (as `tests/unit/gateway/test_extract_answers.py` does):
OCR runs in the app's real `OcrPool` worker processes, Tesseract and all.
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from gateway.app import create_app
from gateway.auth.keys import KeyStore
from gateway.evidence import OcrPool
from gateway.extract.inputs import parse_fields
from gateway.pipeline.models import ExtractRequest
from gateway.settings import Settings
from tests.support.pages import (
    Box,
    TestPage,
    field_boxes,
    invoice_page,
    iou,
    page_image,
    passport_page,
    rotated,
    text_pdf,
)


class ScriptedUpstream:
    """Stands in for ``Upstream``: answers each request with the next scripted content."""

    def __init__(self) -> None:
        self.script: list[str] = []
        self.by_schema: dict[str, str] = {}
        """Answers by the schema asked (several schemas run concurrently)."""
        self.calls = 0

    async def complete_json(
        self, body: bytes, state: Any, route: str, affinity: bytes | None = None
    ) -> dict[str, Any]:
        self.calls += 1
        schema = json.loads(body)["response_format"]["json_schema"]["name"]
        content = self.by_schema.pop(schema) if schema in self.by_schema else self.script.pop(0)
        return {
            "id": f"chatcmpl-{self.calls}",
            "model": "phi-3.5-vision",
            "choices": [{"message": {"content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 900, "completion_tokens": 50, "total_tokens": 950},
        }


# --- the two documents as the schemas read them ------------------------------------------------

INVOICE_NAMES = {"/vendor_name": "/vendor", "/customer_name": "/customer"}
"""Schema pointer → the generated page's pointer, where the names differ."""


def invoice_answer(page: TestPage) -> dict[str, Any]:
    d = page.data
    return {
        "vendor_name": d["vendor"],
        "customer_name": d["customer"],
        "invoice_number": d["invoice_number"],
        "invoice_date": d["invoice_date"],
        "currency": d["currency"],
        "total": d["total"],
        "line_items": d["line_items"],
    }


def passport_answer(page: TestPage) -> dict[str, Any]:
    return dict(page.data)


DERIVED = {"/currency", "/sex"}
"""Printed on the pages, but derived in the schemas (a code, one letter: docs/grounding.md)."""

KINDS: dict[str, tuple[Callable[[], TestPage], Callable[[TestPage], dict[str, Any]]]] = {
    "invoice": (invoice_page, invoice_answer),
    "passport": (passport_page, passport_answer),
}


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format=fmt, **options)
    return out.getvalue()


def variant(page: TestPage, name: str) -> tuple[str, Callable[[list[Box]], list[Box]]]:
    """The page as sent (a data URL) and how its true boxes map onto what was sent."""
    if name == "pdf":
        return data_url(text_pdf([page]), "application/pdf"), lambda boxes: boxes
    image = page_image(page, dpi=200)
    if name == "png":
        return data_url(encoded(image, "PNG"), "image/png"), lambda boxes: boxes
    degrees = 3.0 if name == "photo+3" else -3.0
    photo, _ = rotated(image, degrees, [])
    sent = encoded(photo, "JPEG", quality=70)

    def turn(boxes: list[Box]) -> list[Box]:
        return [b for _, b in rotated(image, degrees, [("", b) for b in boxes])[1]]

    return data_url(sent, "image/jpeg"), turn


# --- the app -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def make_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Any]]:
    opened: list[TestClient] = []

    def make(**settings: Any) -> tuple[TestClient, str, ScriptedUpstream]:
        folder = tmp_path_factory.mktemp("grounding")
        config = Settings(keys_db=folder / "k.db", upstream_url="http://127.0.0.1:9", **settings)
        key = KeyStore(config.keys_db).create("t", scopes=["extract"])
        client = TestClient(create_app(config), raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        upstream = ScriptedUpstream()
        client.app.state.upstream = upstream  # type: ignore[attr-defined]
        client.headers["authorization"] = f"Bearer {key}"
        return client, key, upstream

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def app(make_client: Callable[..., Any]) -> tuple[TestClient, str, ScriptedUpstream]:
    result: tuple[TestClient, str, ScriptedUpstream] = make_client(ocr_workers=1)
    return result


def extract(
    client: TestClient, upstream: ScriptedUpstream, kind: str, answer: dict[str, Any], **body: Any
) -> dict[str, Any]:
    upstream.script = [json.dumps(answer)]
    r = client.post(f"/v1/extract/{kind}", json={"confidence": False, "num_crops": 4, **body})
    assert r.status_code == 200, r.text
    return dict(r.json())


def single(body: dict[str, Any]) -> dict[str, Any]:
    """The one page's result: the body itself, or a one-page document's page."""
    if body["object"] == "extraction.document":
        (page,) = body["pages"]
        return dict(page)
    return body


# --- true values: every field grounded where it is printed --------------------------------------


@pytest.mark.parametrize("name", ["pdf", "png", "photo+3", "photo-3"])
@pytest.mark.parametrize("kind", ["invoice", "passport"])
def test_every_transcribed_field_is_grounded_where_the_page_prints_it(
    app: tuple[TestClient, str, ScriptedUpstream], kind: str, name: str
) -> None:
    client, _, upstream = app
    make_page, answer_of = KINDS[kind]
    page = make_page()
    answer = answer_of(page)
    url, turn = variant(page, name)
    body = extract(client, upstream, kind, answer, image_url=url, grounding=True)
    result = single(body)
    grounding = result["grounding"]
    assert grounding is not None, result.get("grounding_note")
    source = "pdf_text" if name == "pdf" else "ocr"
    assert result["grounding_engine"] == (
        None if name == "pdf" else {"name": "tesseract", "version": "5.5.4"}
    )
    wanted = {INVOICE_NAMES.get(p, p) for p in grounding} if kind == "invoice" else set(grounding)
    printed = {r.field for r in page.runs if r.field}
    assert wanted == printed - DERIVED  # every printed field that the schema transcribes
    for pointer, where in grounding.items():
        assert where is not None, f"{pointer} not grounded ({name})"
        assert where["page"] == 1 and where["source"] == source
        truth = turn(field_boxes(page, INVOICE_NAMES.get(pointer, pointer)))
        assert len(where["boxes"]) == len(truth), (pointer, where)
        for found, true in zip(where["boxes"], truth, strict=True):
            assert iou(found, true) >= 0.5, (pointer, found, true)
    check = next(c for c in result["checks"] if c["name"] == "grounding")
    assert check["status"] == "pass"
    assert not [r for r in result["review_reasons"] if r["subject"] == "grounding"]
    if kind == "invoice":
        assert result["review"] is False
    if body["object"] == "extraction.document" and body["data"] is not None:
        assert body["grounding"] == grounding  # one page: the merged document's is the page's


@pytest.mark.parametrize("name", ["pdf", "png"])
def test_an_invented_value_is_not_grounded_and_sends_the_result_to_review(
    app: tuple[TestClient, str, ScriptedUpstream], name: str
) -> None:
    client, _, upstream = app
    page = invoice_page()
    answer = invoice_answer(page) | {"invoice_number": "INV-2026-0047"}
    url, _ = variant(page, name)
    body = extract(client, upstream, "invoice", answer, image_url=url, grounding=True)
    for result in (single(body), body):
        assert result["grounding"]["/invoice_number"] is None
        assert result["grounding"]["/total"] is not None
        check = next(c for c in result["checks"] if c["name"] == "grounding")
        assert check["status"] == "fail" and check["fields"] == ["/invoice_number"]
        assert result["review"] is True
        reasons = [r for r in result["review_reasons"] if r["subject"] == "grounding"]
        assert reasons and "/invoice_number" in reasons[0]["message"]
        if body["object"] != "extraction.document":
            break


def test_an_ungrounded_field_is_named_in_the_repair_note(
    app: tuple[TestClient, str, ScriptedUpstream],
) -> None:
    client, _, upstream = app
    page = invoice_page()
    invented = invoice_answer(page) | {"invoice_number": "INV-2026-0047"}
    url, _ = variant(page, "png")
    seen: list[str] = []
    original = upstream.complete_json

    async def recording(body: bytes, *args: Any, **kwargs: Any) -> dict[str, Any]:
        seen.append(json.loads(body)["messages"][-1]["content"][-1]["text"])
        return await original(body, *args, **kwargs)

    upstream.complete_json = recording  # type: ignore[method-assign]
    try:
        upstream.script = [json.dumps(invented), json.dumps(invoice_answer(page))]
        r = client.post(
            "/v1/extract/invoice",
            json={"image_url": url, "grounding": True, "confidence": False, "verify": "repair"},
        )
    finally:
        del upstream.complete_json
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(seen) == 2 and "/invoice_number" in seen[1] and "/invoice_number" not in seen[0]
    assert body["repair"]["chosen"] == 1 and body["review"] is False
    assert body["grounding"]["/invoice_number"] is not None


# --- the OCR pool past its time cap ------------------------------------------------------------


def test_ocr_past_its_time_cap_answers_ungrounded_with_a_note_and_the_gateway_keeps_serving(
    make_client: Callable[..., Any],
) -> None:
    client, _, upstream = make_client(ocr_workers=1, ocr_page_timeout_s=2.0)
    hanging = OcrPool(1, 2.0, reader="tests.support.ocr_readers:hanging")
    client.app.state.ocr_pool = hanging
    page = invoice_page()
    url, _ = variant(page, "png")
    upstream.script = [json.dumps(invoice_answer(page))]
    with ThreadPoolExecutor(2) as pool:
        started = time.monotonic()
        slow = pool.submit(
            client.post,
            "/v1/extract/invoice",
            json={"image_url": url, "grounding": True, "confidence": False, "num_crops": 4},
        )
        time.sleep(0.5)  # the OCR worker is now stuck on the page
        assert not slow.done()
        quick = client.get("/v1/schemas")
        quick_at = time.monotonic() - started
        response = slow.result(timeout=60)
        slow_at = time.monotonic() - started
    assert quick.status_code == 200 and quick_at < slow_at
    assert slow_at >= 2.0
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["grounding"] is None and "GATEWAY_OCR_PAGE_TIMEOUT_S" in body["grounding_note"]
    assert not [c for c in body["checks"] if c["name"] == "grounding"]
    assert body["data"]["invoice_number"] == "INV-2026-0042"  # the extraction still answered
    import asyncio

    asyncio.run(hanging.aclose())


# --- the flag and the default ------------------------------------------------------------------


@pytest.fixture(scope="module")
def documents() -> dict[str, str]:
    page = invoice_page()
    return {"pdf": variant(page, "pdf")[0], "png": variant(page, "png")[0]}


def grounded(body: dict[str, Any]) -> bool:
    has_check = any(c["name"] == "grounding" for c in single(body)["checks"])
    assert (single(body)["grounding"] is not None) == has_check
    return bool(single(body)["grounding"])


@pytest.mark.parametrize(
    ("default", "flag", "pdf", "png"),
    [
        ("never", None, False, False),
        ("text_layer", None, True, False),
        ("always", None, True, True),
        ("never", True, True, True),
        ("text_layer", False, False, False),
        ("always", False, False, False),
    ],
)
def test_the_request_flag_over_the_default(
    make_client: Callable[..., Any],
    documents: dict[str, str],
    default: str,
    flag: bool | None,
    pdf: bool,
    png: bool,
) -> None:
    client, _, upstream = make_client(grounding_default=default)
    answer = invoice_answer(invoice_page())
    for name, expected in (("pdf", pdf), ("png", png)):
        body = extract(
            client, upstream, "invoice", answer, image_url=documents[name], grounding=flag
        )
        assert grounded(body) is expected, (default, flag, name)


def test_the_flag_reads_from_form_fields_as_from_json() -> None:
    """A multipart body's fields are strings; the flag parses from them as from JSON."""
    base = {"image_url": "upload"}
    assert parse_fields(ExtractRequest, base | {"grounding": "false"}).grounding is False
    assert parse_fields(ExtractRequest, base | {"grounding": "true"}).grounding is True
    assert parse_fields(ExtractRequest, base).grounding is None


# --- a document of several pages: each page's grounding, the merged one by provenance ------------


def test_a_merged_document_is_grounded_on_the_page_each_value_came_from(
    make_client: Callable[..., Any],
) -> None:
    client, _, upstream = make_client(document_page_concurrency=1)  # pages asked in order
    page = invoice_page()
    whole = invoice_answer(page)
    first = whole | {"line_items": whole["line_items"][:2], "total": None}
    second = {"line_items": whole["line_items"][2:], "total": 1253.71}  # an invented total
    upstream.script = [json.dumps(first), json.dumps(second)]
    r = client.post(
        "/v1/extract/invoice",
        json={
            "image_url": data_url(text_pdf([page, page]), "application/pdf"),
            "confidence": False,
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["provenance"]["/line_items/2"] == 2 and body["provenance"]["/total"] == 2
    merged = body["grounding"]
    assert merged["/invoice_number"]["page"] == 1
    gloves = merged["/line_items/2/description"]
    assert gloves["page"] == 2 and gloves["text"] == "Safety gloves"
    truth = field_boxes(page, "/line_items/2/description")
    assert all(iou(f, t) >= 0.5 for f, t in zip(gloves["boxes"], truth, strict=True))
    assert merged["/total"] is None  # 1253.71 is printed nowhere
    pages = {p["page"]: p for p in body["pages"]}
    assert pages[2]["grounding"]["/line_items/0/description"]["page"] == 2
    assert pages[2]["grounding"]["/total"] is None and pages[1]["review"] is False
    check = next(c for c in body["checks"] if c["name"] == "grounding")
    assert check["status"] == "fail" and check["fields"] == ["/total"]
    assert body["review"] is True
    assert any(
        r["subject"] == "grounding" and "/total" in r["message"] for r in body["review_reasons"]
    )


def test_each_schema_of_a_multi_schema_extraction_is_grounded(
    app: tuple[TestClient, str, ScriptedUpstream],
) -> None:
    client, _, upstream = app
    page = invoice_page()
    upstream.by_schema = {
        "invoice": json.dumps(invoice_answer(page)),
        "people_count": json.dumps({"count": 2, "confidence": "high"}),
    }
    r = client.post(
        "/v1/extract",
        json={
            "image_url": variant(page, "png")[0],
            "schemas": ["invoice", "people_count"],
            "grounding": True,
            "confidence": False,
            "num_crops": 4,
        },
    )
    assert r.status_code == 200, r.text
    invoice, people = r.json()["results"]["invoice"], r.json()["results"]["people_count"]
    assert invoice["grounding"]["/invoice_number"]["text"] == "INV-2026-0042"
    assert invoice["grounding_engine"] == {"name": "tesseract", "version": "5.5.4"}
    assert people["grounding"] == {}  # nothing transcribed: an empty map, no OCR needed
