"""``POST /v1/documents/preview`` on a real gateway process over loopback, driven by httpx.

A preview asks no model, so the gateway here points at an address where nothing listens:
any answer it gives comes from the gateway and its render workers alone.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.support.documents import encrypted_pdf, invoice_pages, pdf_bytes, tiff_bytes
from tests.support.gateway_server import GatewayServer, start_gateway
from tests.support.images import data_url, image_bytes, make_image
from tests.support.procs import free_port

MAX_PAGES = 4
COLOURS = ["red", "lime", "blue"]


def colour_pages() -> list[Image.Image]:
    """Three pages told apart by colour: portrait, landscape, portrait."""
    sizes = [(600, 800), (900, 600), (600, 800)]
    return [Image.new("RGB", size, colour) for size, colour in zip(sizes, COLOURS, strict=True)]


PDF = pdf_bytes(colour_pages())


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    nowhere = f"http://127.0.0.1:{free_port()}"
    gw = start_gateway(
        nowhere,
        tmp_path_factory.mktemp("preview"),
        GATEWAY_DOCUMENT_MAX_PAGES=str(MAX_PAGES),
        GATEWAY_DOCUMENT_RENDER_WORKERS="1",
    )
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def api(gateway: GatewayServer) -> Iterator[httpx.Client]:
    key = gateway.create_key("preview", scopes=["extract"])
    with httpx.Client(
        base_url=gateway.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120
    ) as client:
        yield client


def upload(api: httpx.Client, data: bytes, name: str, **fields: Any) -> httpx.Response:
    return api.post(
        "/v1/documents/preview",
        files={"image": (name, data, "application/octet-stream")},
        data={k: str(v) for k, v in fields.items()},
    )


def thumbnail(page: dict[str, Any]) -> Image.Image:
    head, _, encoded = page["image_url"].partition(",")
    assert head == "data:image/jpeg;base64"
    image = Image.open(io.BytesIO(base64.b64decode(encoded)))
    assert image.format == "JPEG" and image.size == (page["width"], page["height"])
    return image.convert("RGB")


def centre(image: Image.Image) -> tuple[int, ...]:
    return tuple(image.getpixel((image.width // 2, image.height // 2)))  # type: ignore[arg-type]


def close_to(pixel: tuple[int, ...], colour: str) -> bool:
    expected = Image.new("RGB", (1, 1), colour).getpixel((0, 0))
    return all(abs(a - b) < 24 for a, b in zip(pixel, expected, strict=True))  # type: ignore[arg-type]


def test_an_uploaded_pdf_comes_back_as_one_thumbnail_per_page_in_order(api: httpx.Client) -> None:
    response = upload(api, PDF, "colours.pdf")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "document.preview" and body["kind"] == "pdf"
    assert body["page_count"] == 3 and [p["page"] for p in body["pages"]] == [1, 2, 3]
    sizes = [(p["width"], p["height"]) for p in body["pages"]]
    assert sizes == [(192, 256), (256, 171), (192, 256)]  # the default 256-px box, shape kept
    for page, colour in zip(body["pages"], COLOURS, strict=True):
        assert close_to(centre(thumbnail(page)), colour), (page["page"], colour)


def test_a_data_url_with_a_page_selection_and_a_smaller_box(api: httpx.Client) -> None:
    url = "data:application/pdf;base64," + base64.b64encode(PDF).decode()
    response = api.post(
        "/v1/documents/preview", json={"image_url": url, "pages": "2-", "max_side": 64}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["page_count"] == 3 and [p["page"] for p in body["pages"]] == [2, 3]
    assert [(p["width"], p["height"]) for p in body["pages"]] == [(64, 43), (48, 64)]
    assert close_to(centre(thumbnail(body["pages"][0])), "lime")


def test_a_tiff_is_previewed_like_a_pdf(api: httpx.Client) -> None:
    response = upload(api, tiff_bytes(colour_pages()), "scan.tiff", pages="3")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "tiff" and body["page_count"] == 3
    (page,) = body["pages"]
    assert page["page"] == 3 and close_to(centre(thumbnail(page)), "blue")


def test_a_long_document_shows_its_first_pages_and_says_how_many_there_are(
    api: httpx.Client,
) -> None:
    long = pdf_bytes(invoice_pages(MAX_PAGES + 2), dpi=600)
    body = upload(api, long, "long.pdf", max_side=48).json()
    assert body["page_count"] == MAX_PAGES + 2
    assert [p["page"] for p in body["pages"]] == list(range(1, MAX_PAGES + 1))
    # Choosing more pages than the cap is refused as it is for extraction, naming the setting.
    refused = upload(api, long, "long.pdf", pages=f"1-{MAX_PAGES + 1}")
    assert refused.status_code == 413
    error = refused.json()["error"]
    assert error["code"] == "document_too_many_pages" and error["param"] == "image"
    assert "GATEWAY_DOCUMENT_MAX_PAGES" in error["message"]


def expect_error(response: httpx.Response, status: int, code: str, param: str | None) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, param), error
    assert "Traceback" not in response.text
    return str(error["message"])


def test_an_image_is_not_a_document(api: httpx.Client) -> None:
    photo = make_image(64, 48)
    as_file = upload(api, image_bytes(photo), "photo.png")
    message = expect_error(as_file, 400, "invalid_value", "image")
    assert "PDF or TIFF" in message
    as_url = api.post("/v1/documents/preview", json={"image_url": data_url(photo)})
    expect_error(as_url, 400, "invalid_value", "image_url")


@pytest.mark.parametrize(
    ("fields", "code", "param"),
    [
        ({"pages": "2-1"}, "document_bad_page_selection", "pages"),
        ({"pages": "9"}, "document_page_out_of_range", "pages"),
        ({"max_side": 8}, "invalid_value", "max_side"),
        ({"max_side": "big"}, "invalid_value", "max_side"),
        ({"colour": "red"}, "invalid_value", "colour"),
    ],
)
def test_bad_fields_are_400s_naming_the_field(
    api: httpx.Client, fields: dict[str, Any], code: str, param: str
) -> None:
    expect_error(upload(api, PDF, "colours.pdf", **fields), 400, code, param)


def test_a_document_extraction_would_refuse_is_refused_the_same_way(api: httpx.Client) -> None:
    locked = upload(api, encrypted_pdf(), "locked.pdf")
    message = expect_error(locked, 400, "document_encrypted", "image")
    assert "encrypted" in message
    truncated = PDF[: len(PDF) // 2]
    expect_error(upload(api, truncated, "half.pdf"), 400, "document_truncated", "image")


def test_the_key_decides(gateway: GatewayServer, tmp_path: Path) -> None:
    files = {"image": ("colours.pdf", PDF, "application/pdf")}
    url = gateway.base_url + "/v1/documents/preview"
    expect_error(httpx.post(url, files=files), 401, "missing_api_key", None)
    chat_only = gateway.create_key("chat-only", scopes=["chat"])
    refused = httpx.post(url, files=files, headers={"Authorization": f"Bearer {chat_only}"})
    assert refused.status_code == 403 and "extract" in refused.json()["error"]["message"]
