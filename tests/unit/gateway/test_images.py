"""Image checks: formats, bytes, pixels (bombs), base64, schemes."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
from PIL import Image

from gateway.errors import GatewayError
from gateway.images import check_image_bytes, validate_image_url
from gateway.settings import Settings

PARAM = "messages[0].content[1].image_url"


def _settings(**kw: object) -> Settings:
    return Settings(**kw)  # type: ignore[arg-type]


def _encode(fmt: str, size: tuple[int, int] = (32, 24)) -> bytes:
    img = Image.new("RGB", size, (200, 40, 10))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def _data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG whose header claims width x height (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


async def _reject(url: str, settings: Settings | None = None) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        await validate_image_url(url, settings or _settings(), None, param=PARAM)
    assert info.value.param == PARAM
    return info.value


@pytest.mark.parametrize(
    "fmt,mime",
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("WEBP", "image/webp"),
        ("GIF", "image/gif"),
        ("BMP", "image/bmp"),
    ],
)
def test_each_allowed_format_passes(fmt: str, mime: str) -> None:
    checked = check_image_bytes(_encode(fmt), _settings(), param=PARAM)
    assert (checked.format, checked.mime, checked.width, checked.height) == (fmt, mime, 32, 24)


@pytest.mark.anyio
async def test_correct_data_url_is_returned_unchanged() -> None:
    url = _data_url(_encode("PNG"))
    assert await validate_image_url(url, _settings(), None, param=PARAM) is url


@pytest.mark.anyio
async def test_mislabelled_data_url_gets_the_true_media_type() -> None:
    data = _encode("JPEG")
    out = await validate_image_url(_data_url(data, "image/png"), _settings(), None, param=PARAM)
    assert out.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(out.split(",", 1)[1]) == data


@pytest.mark.anyio
async def test_animated_gif_first_frame_is_accepted() -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    out = await validate_image_url(
        _data_url(buf.getvalue(), "image/gif"), _settings(), None, param=PARAM
    )
    assert out.startswith("data:image/gif;base64,")


@pytest.mark.anyio
async def test_bad_base64_is_400() -> None:
    err = await _reject("data:image/png;base64,@@@not-base64@@@")
    assert (err.status, err.code) == (400, "image_bad_base64")


@pytest.mark.anyio
async def test_data_url_without_base64_is_400() -> None:
    err = await _reject("data:image/png,rawbytes")
    assert (err.status, err.code) == (400, "image_bad_data_url")


@pytest.mark.anyio
async def test_bytes_that_are_not_an_image_are_400() -> None:
    err = await _reject(_data_url(b"hello, I am text, not a picture"))
    assert (err.status, err.code) == (400, "image_not_an_image")


@pytest.mark.anyio
async def test_truncated_image_is_400() -> None:
    data = _encode("PNG", (200, 200))
    err = await _reject(_data_url(data[: len(data) // 2]))
    assert (err.status, err.code) == (400, "image_corrupt")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "payload,label",
    [
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="9"/>',
            "SVG",
        ),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "SVG"),
    ],
)
async def test_unsupported_formats_are_400(payload: bytes, label: str) -> None:
    err = await _reject(_data_url(payload, "image/whatever"))
    assert (err.status, err.code) == (400, "image_unsupported_format")
    assert label in err.message


@pytest.mark.anyio
@pytest.mark.parametrize(("payload", "label"), [(None, "TIFF"), (b"%PDF-1.7\n%%EOF", "PDF")])
async def test_documents_are_400s_pointing_to_the_extraction_api(
    payload: bytes | None, label: str
) -> None:
    data = _encode("TIFF") if payload is None else payload
    err = await _reject(_data_url(data, "application/pdf"))
    assert (err.status, err.code) == (400, "document_needs_extraction")
    assert label in err.message and "/v1/extract/" in err.message


@pytest.mark.anyio
async def test_too_many_bytes_is_413_before_decoding() -> None:
    data = _encode("PNG", (64, 64))
    err = await _reject(_data_url(data), _settings(max_image_bytes=len(data) - 1))
    assert (err.status, err.code) == (413, "image_too_large")


@pytest.mark.anyio
async def test_decompression_bomb_is_413_from_the_header() -> None:
    bomb = _png_declaring(100_000, 100_000)  # 10^10 pixels declared in ~60 bytes
    assert len(bomb) < 100
    err = await _reject(_data_url(bomb))
    assert (err.status, err.code) == (413, "image_too_many_pixels")


@pytest.mark.anyio
async def test_pixel_cap_is_the_setting() -> None:
    err = await _reject(_data_url(_encode("PNG", (100, 100))), _settings(max_image_pixels=9_999))
    assert (err.status, err.code) == (413, "image_too_many_pixels")
    ok = await validate_image_url(
        _data_url(_encode("PNG", (100, 100))), _settings(max_image_pixels=10_000), None, param=PARAM
    )
    assert ok.startswith("data:image/png")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/a.png",
        "gopher://x/",
        "javascript:alert(1)",
        "/relative.png",
    ],
)
async def test_other_schemes_are_refused(url: str) -> None:
    err = await _reject(url)
    assert (err.status, err.code) == (400, "image_fetch_refused")


@pytest.mark.anyio
async def test_http_url_without_a_fetch_client_is_refused() -> None:
    err = await _reject("https://example.com/a.png")
    assert err.status == 400
