"""``image_url`` → validated ``data:`` URL. The one gate every image passes before vLLM.

``validate_image_url`` accepts a ``data:…;base64,…`` URL or an http(s) URL (fetched through
``fetch.fetch_image``), and returns a data URL whose bytes are a PNG, JPEG, WebP, GIF or BMP
that Pillow decodes, within the byte and pixel caps. The format is taken from the bytes (magic
numbers), not from the declared media type; a data URL that was already right is returned as
is, so the request body need not be rebuilt.

Pixels are checked from the header, before any decoding, so a small file declaring a huge
canvas (a decompression bomb) costs nothing. Pillow's own guard, ``Image.MAX_IMAGE_PIXELS``,
is set to the same cap by ``create_app``.

Every refusal is a ``GatewayError`` naming ``param`` (e.g. ``messages[0].content[1].image_url``)
with a ``code`` that doubles as the metrics reason: 400 for a bad image, 413 for too large.
The extraction API reuses this function unchanged:

    data_url = await validate_image_url(url, settings, app.state.fetch_client,
                                        param="image_url")

``validate_image`` does the same and also returns the sha256 of the decoded bytes when asked:
the routing key (``replicas``), identical whether the image came as a data URL or was fetched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import warnings
from dataclasses import dataclass

import anyio
import httpx
from PIL import Image, UnidentifiedImageError

from ..documents import DocumentNotImage, document_kind
from ..errors import ErrorCode, GatewayError
from ..settings import Settings
from .fetch import fetch_image

__all__ = [
    "CheckedImage",
    "ValidImage",
    "check_image_bytes",
    "validate_image",
    "validate_image_url",
    "sniff_format",
    "ALLOWED_FORMATS",
]

ALLOWED_FORMATS: dict[str, str] = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
}
_DATA_URL = re.compile(r"data:([^;,]*)((?:;[^;,]*)*),", re.ASCII)

# Requests over the pixel cap are refused with a 413 of ours; Pillow's warning would be noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


@dataclass(frozen=True, slots=True)
class CheckedImage:
    """What the check learnt about an image."""

    format: str
    mime: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ValidImage:
    """A checked image as a data URL, and the sha256 of its bytes if it was asked for."""

    url: str
    digest: bytes | None = None


def sniff_format(data: bytes) -> str | None:
    """Pillow format name from magic bytes; a name in ``ALLOWED_FORMATS`` or a refusal label."""
    head = data[:32]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"BM"):
        return "BMP"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    stripped = data[:512].lstrip().lower()
    if stripped.startswith(b"<svg") or (stripped.startswith(b"<?xml") and b"<svg" in stripped):
        return "SVG"
    if head.startswith(b"%PDF"):
        return "PDF"
    if head[4:8] == b"ftyp":
        return "HEIF/AVIF"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "ICO"
    return None


def check_image_bytes(data: bytes, settings: Settings, *, param: str) -> CheckedImage:
    """Check format, bytes and pixels, then decode the (first) frame fully. CPU-bound.

    A PDF or TIFF raises `DocumentNotImage`, carrying the bytes, before any image cap: chat
    answers it with a 400 that points to the extraction API, which renders it instead."""
    kind = document_kind(data)
    if kind is not None:
        raise DocumentNotImage(data, kind, param=param)
    if len(data) > settings.max_image_bytes:
        raise GatewayError(
            413,
            f"image is {len(data)} bytes; the limit is {settings.max_image_bytes}",
            param=param,
            code=ErrorCode.IMAGE_TOO_LARGE,
        )
    fmt = sniff_format(data)
    if fmt is None:
        raise GatewayError(
            400, "not an image (unrecognised bytes)", param=param, code=ErrorCode.IMAGE_NOT_AN_IMAGE
        )
    if fmt not in ALLOWED_FORMATS:
        raise GatewayError(
            400,
            f"unsupported image format {fmt}; allowed: PNG, JPEG, WebP, GIF, BMP",
            param=param,
            code=ErrorCode.IMAGE_UNSUPPORTED_FORMAT,
        )
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            width, height = im.size
            if width * height > settings.max_image_pixels:
                raise _too_many_pixels(width, height, settings, param)
            im.seek(0)
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise GatewayError(
            413,
            f"image has too many pixels (limit {settings.max_image_pixels})",
            param=param,
            code=ErrorCode.IMAGE_TOO_MANY_PIXELS,
        ) from exc
    except GatewayError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise GatewayError(
            400, f"image could not be decoded as {fmt}", param=param, code=ErrorCode.IMAGE_CORRUPT
        ) from exc
    if width < 1 or height < 1:
        raise GatewayError(400, "image has no pixels", param=param, code=ErrorCode.IMAGE_CORRUPT)
    return CheckedImage(fmt, ALLOWED_FORMATS[fmt], width, height)


def _too_many_pixels(width: int, height: int, settings: Settings, param: str) -> GatewayError:
    return GatewayError(
        413,
        f"image is {width}x{height} = {width * height} pixels; the limit "
        f"is {settings.max_image_pixels}",
        param=param,
        code=ErrorCode.IMAGE_TOO_MANY_PIXELS,
    )


def decode_data_url(
    url: str, settings: Settings, *, param: str, max_bytes: int | None = None
) -> tuple[str, str, bytes]:
    """Split a base64 data URL into (declared media type, base64 text, bytes), at most
    ``max_bytes`` of them (default: the image cap)."""
    cap = max_bytes or settings.max_image_bytes
    match = _DATA_URL.match(url)
    if match is None or ";base64" not in match.group(2).lower():
        raise GatewayError(
            400,
            "data URL must look like data:image/png;base64,<data>",
            param=param,
            code=ErrorCode.IMAGE_BAD_DATA_URL,
        )
    payload = url[match.end() :]
    if len(payload) // 4 * 3 > cap + 3:
        raise GatewayError(
            413,
            f"image is larger than {cap} bytes",
            param=param,
            code=ErrorCode.IMAGE_TOO_LARGE,
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise GatewayError(
            400, "data URL is not valid base64", param=param, code=ErrorCode.IMAGE_BAD_BASE64
        ) from exc
    return match.group(1).lower(), payload, data


async def validate_image_url(
    url: str, settings: Settings, fetch_client: httpx.AsyncClient | None, *, param: str
) -> str:
    """Return a data URL with checked image bytes for ``url`` (data: or http(s):).

    Raises ``GatewayError`` naming ``param``: 400 bad or refused image/URL, 413 too large.
    ``fetch_client`` may be None when http(s) URLs need not be supported.
    """
    return (await validate_image(url, settings, fetch_client, param=param)).url


async def validate_image(
    url: str,
    settings: Settings,
    fetch_client: httpx.AsyncClient | None,
    *,
    param: str,
    digest: bool = False,
    max_bytes: int | None = None,
) -> ValidImage:
    """``validate_image_url``, plus the bytes' sha256 when ``digest`` (hashed in the same
    worker thread as the decode check, off the event loop). The URL is ``url`` itself when
    it was already right, so callers can test ``checked.url is url``. ``max_bytes`` raises
    what is read (decoded or fetched) above the image caps, for callers that also take
    documents (`DocumentNotImage`); images still obey the image cap."""
    if not isinstance(url, str) or not url:
        raise GatewayError(
            400,
            "image_url.url must be a non-empty string",
            param=param,
            code=ErrorCode.IMAGE_BAD_URL,
        )
    head = url[:16]
    scheme = head.split(":", 1)[0].lower() if ":" in head else ""
    if scheme == "data":
        declared, payload, data = decode_data_url(url, settings, param=param, max_bytes=max_bytes)
        checked, sha = await anyio.to_thread.run_sync(_check, data, settings, param, digest)
        if declared == checked.mime:
            return ValidImage(url, sha)
        return ValidImage(f"data:{checked.mime};base64,{payload}", sha)
    if scheme in ("http", "https"):
        if fetch_client is None:
            raise GatewayError(
                400,
                "image URLs are not fetched here; send a data URL",
                param=param,
                code=ErrorCode.IMAGE_FETCH_REFUSED,
            )
        data = await fetch_image(url, settings, fetch_client, param=param, max_bytes=max_bytes)
        checked, sha = await anyio.to_thread.run_sync(_check, data, settings, param, digest)
        encoded = base64.b64encode(data).decode("ascii")
        return ValidImage(f"data:{checked.mime};base64,{encoded}", sha)
    shown = scheme or url[:16]
    raise GatewayError(
        400,
        f"image URL scheme '{shown}' is not allowed (use data:, https: or http:)",
        param=param,
        code=ErrorCode.IMAGE_FETCH_REFUSED,
    )


def _check(
    data: bytes, settings: Settings, param: str, digest: bool
) -> tuple[CheckedImage, bytes | None]:
    checked = check_image_bytes(data, settings, param=param)
    return checked, hashlib.sha256(data).digest() if digest else None
