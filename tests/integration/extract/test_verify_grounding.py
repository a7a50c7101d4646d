"""``POST /v1/verify/{name}`` as multipart: a caller's object grounded against the document it
claims to come from (a text-layer PDF, an image read by OCR), in a real gateway process with
its OCR pool. No model is asked, so the stub upstream stands in for the engine."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.gateway_server import GatewayServer, Proc, start_gateway, start_stub
from tests.support.pages import field_boxes, iou, page_image, passport_page, text_pdf


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    work = tmp_path_factory.mktemp("verify-grounding")
    stub: Proc = start_stub(work)
    gw = start_gateway(stub.base_url, work)
    yield gw
    gw.stop()
    stub.stop()


@pytest.fixture(scope="module")
def key(gateway: GatewayServer) -> str:
    return gateway.create_key("reviewer", scopes=["extract"])


PAGE = passport_page()


def _passport(**changes: Any) -> dict[str, Any]:
    d = PAGE.data
    return {
        "passport_number": d["passport_number"],
        "surname": d["surname"],
        "given_names": d["given_names"],
        "date_of_birth": d["date_of_birth"],
        "sex": d["sex"],
        "place_of_birth": d["place_of_birth"],
        "date_of_issue": d["date_of_issue"],
        "date_of_expiry": d["date_of_expiry"],
    } | changes


def _verify(
    gateway: GatewayServer, key: str, data: Any, document: tuple[str, bytes, str], **more: str
) -> httpx.Response:
    fields = {"data": data if isinstance(data, str) else json.dumps(data), **more}
    return httpx.post(
        gateway.base_url + "/v1/verify/passport",
        headers={"Authorization": f"Bearer {key}"},
        files={"image": document},
        data=fields,
        timeout=60,
    )


def _png() -> bytes:
    out = io.BytesIO()
    page_image(PAGE, dpi=200).save(out, format="PNG")
    return out.getvalue()


def _check(body: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in body["checks"] if c["name"] == "grounding")


@pytest.mark.parametrize(
    ("document", "source"),
    [
        (("passport.pdf", text_pdf([PAGE]), "application/pdf"), "pdf_text"),
        (("passport.png", _png(), "image/png"), "ocr"),
    ],
)
def test_a_true_object_is_grounded_where_the_page_prints_it(
    gateway: GatewayServer, key: str, document: tuple[str, bytes, str], source: str
) -> None:
    r = _verify(gateway, key, _passport(), document)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "verification" and _check(body)["status"] == "pass"
    where = body["grounding"]["/passport_number"]
    assert where["page"] == 1 and where["source"] == source
    truth = field_boxes(PAGE, "/passport_number")
    assert all(iou(f, t) >= 0.5 for f, t in zip(where["boxes"], truth, strict=True))
    assert "/sex" not in body["grounding"]  # one letter: derived, never grounded
    if source == "ocr":
        assert body["grounding_engine"]["name"] == "tesseract"
    else:
        assert body["grounding_engine"] is None


def test_a_corrected_value_printed_nowhere_fails_grounding(
    gateway: GatewayServer, key: str
) -> None:
    pdf = ("passport.pdf", text_pdf([PAGE]), "application/pdf")
    r = _verify(gateway, key, _passport(passport_number="L898912C3"), pdf)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["grounding"]["/passport_number"] is None
    check = _check(body)
    assert check["status"] == "fail" and check["fields"] == ["/passport_number"]
    assert body["review"] is True
    assert any(r["subject"] == "grounding" for r in body["review_reasons"])


def test_the_json_body_is_still_checked_without_grounding(gateway: GatewayServer, key: str) -> None:
    r = httpx.post(
        gateway.base_url + "/v1/verify/passport",
        headers={"Authorization": f"Bearer {key}"},
        json=_passport(),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json()["grounding"] is None
    assert all(c["name"] != "grounding" for c in r.json()["checks"])


@pytest.mark.parametrize(
    ("data", "extra", "param", "code"),
    [
        ("{not json", {}, "data", "invalid_json"),
        (None, {}, "data", "invalid_value"),
        (_passport(), {"hint": "x"}, "hint", "unsupported_parameter"),
        (_passport(passport_number=7), {}, "passport_number", "data_invalid"),
    ],
)
def test_bad_parts_are_refused_naming_the_field(
    gateway: GatewayServer,
    key: str,
    data: Any,
    extra: dict[str, str],
    param: str,
    code: str,
) -> None:
    pdf = ("passport.pdf", text_pdf([PAGE]), "application/pdf")
    if data is None:
        r = httpx.post(
            gateway.base_url + "/v1/verify/passport",
            headers={"Authorization": f"Bearer {key}"},
            files={"image": pdf},
            data={"pages": "1"},
            timeout=30,
        )
    else:
        r = _verify(gateway, key, data, pdf, **extra)
    assert r.status_code in (400, 422), r.text
    error = r.json()["error"]
    assert error["code"] == code and param in (error.get("param") or ""), error
