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

``validate_image`` is the full path: it also pre-sizes the image for ``num_crops``
(``presize``: an image larger than the model will use is shrunk to exactly the processor's
target, others pass through byte for byte) and returns the sha256 of the bytes it sends, the
routing key (``replicas``). Base64 decoding, the checks and the pre-size run in one of the
worker's decode slots (``decodes.DecodeSlots``), so decoded buffers exist only for the images
holding a slot:

    valid = await validate_image(url, settings, fetch_client, param=..., num_crops=4,
                                 slots=app.state.decode_slots)
    valid.url, valid.digest, valid.presized

"The same picture" for routing is the same image file: whether it came as a data URL (with any
declared media type) or from a URL, the bytes sent upstream (and so their sha256) are the
same. It is also what vLLM's prefix cache keys on: vLLM hashes the image bytes it receives.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import httpx
from PIL import Image, UnidentifiedImageError

from ..documents import DocumentNotImage, document_kind
from ..errors import ErrorCode, GatewayError
from ..settings import Settings
from .decodes import DecodeSlots
from .fetch import fetch_image
from .presize import PreparedImage, TooManyPixels, presize_image

__all__ = [
    "CheckedImage",
    "ValidImage",
    "check_image_bytes",
    "prepare_image_bytes",
    "prepare_upload",
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
    """A checked image as a data URL, the sha256 of the bytes in it (the routing key), and
    whether it was pre-sized (then it was made for one num_crops, which must be sent)."""

    url: str
    digest: bytes | None = None
    presized: bool = False
    original: str | bytes | None = field(default=None, compare=False, repr=False)
    """The image as received when ``url`` is a pre-sized copy: the data URL or the uploaded
    bytes (references the request holds anyway, not copies), for reading the page at its
    own resolution (grounding's OCR); None when ``url`` is the original or it was fetched."""


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


def _sniff_allowed(data: bytes, settings: Settings, param: str) -> str:
    """The byte cap and the format, from the magic bytes; the Pillow format name.

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
    return fmt


def _bomb(settings: Settings, param: str) -> GatewayError:
    return GatewayError(
        413,
        f"image has too many pixels (limit {settings.max_image_pixels})",
        param=param,
        code=ErrorCode.IMAGE_TOO_MANY_PIXELS,
    )


def _corrupt(fmt: str, param: str) -> GatewayError:
    return GatewayError(
        400, f"image could not be decoded as {fmt}", param=param, code=ErrorCode.IMAGE_CORRUPT
    )


_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError)


def check_image_bytes(data: bytes, settings: Settings, *, param: str) -> CheckedImage:
    """Check format, bytes and pixels, then decode the (first) frame fully. CPU-bound."""
    fmt = _sniff_allowed(data, settings, param)
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            width, height = im.size
            if width * height > settings.max_image_pixels:
                raise _too_many_pixels(width, height, settings, param)
            im.seek(0)
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb(settings, param) from exc
    except GatewayError:
        raise
    except _DECODE_ERRORS as exc:
        raise _corrupt(fmt, param) from exc
    if width < 1 or height < 1:
        raise GatewayError(400, "image has no pixels", param=param, code=ErrorCode.IMAGE_CORRUPT)
    return CheckedImage(fmt, ALLOWED_FORMATS[fmt], width, height)


def prepare_image_bytes(
    data: bytes, settings: Settings, *, param: str, num_crops: int
) -> PreparedImage:
    """``check_image_bytes``, then pre-size for ``num_crops`` (``presize``) unless
    ``settings.presize_images`` is off. CPU-bound: run it in a decode slot."""
    if not settings.presize_images:
        checked = check_image_bytes(data, settings, param=param)
        digest = hashlib.sha256(data).digest()
        return PreparedImage(data, checked.format, checked.width, checked.height, False, digest)
    fmt = _sniff_allowed(data, settings, param)
    try:
        prepared = presize_image(data, fmt, num_crops, settings.max_image_pixels)
    except TooManyPixels as exc:
        raise _too_many_pixels(exc.width, exc.height, settings, param) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb(settings, param) from exc
    except _DECODE_ERRORS as exc:
        raise _corrupt(fmt, param) from exc
    if prepared.width < 1 or prepared.height < 1:
        raise GatewayError(400, "image has no pixels", param=param, code=ErrorCode.IMAGE_CORRUPT)
    return prepared


def _too_many_pixels(width: int, height: int, settings: Settings, param: str) -> GatewayError:
    return GatewayError(
        413,
        f"image is {width}x{height} = {width * height} pixels; the limit "
        f"is {settings.max_image_pixels}",
        param=param,
        code=ErrorCode.IMAGE_TOO_MANY_PIXELS,
    )


def _data_url_head(
    url: str, settings: Settings, *, param: str, max_bytes: int | None = None
) -> tuple[str, int]:
    """(declared media type, where the base64 text starts) of a data URL, and the byte cap
    (``max_bytes``, default: the image cap) checked from the text's length; nothing is copied
    or decoded here."""
    cap = max_bytes or settings.max_image_bytes
    match = _DATA_URL.match(url)
    if match is None or ";base64" not in match.group(2).lower():
        raise GatewayError(
            400,
            "data URL must look like data:image/png;base64,<data>",
            param=param,
            code=ErrorCode.IMAGE_BAD_DATA_URL,
        )
    if (len(url) - match.end()) // 4 * 3 > cap + 3:
        raise GatewayError(
            413,
            f"image is larger than {cap} bytes",
            param=param,
            code=ErrorCode.IMAGE_TOO_LARGE,
        )
    return match.group(1).lower(), match.end()


async def validate_image_url(
    url: str, settings: Settings, fetch_client: httpx.AsyncClient | None, *, param: str
) -> str:
    """Return a data URL with checked image bytes for ``url`` (data: or http(s):).

    Raises ``GatewayError`` naming ``param``: 400 bad or refused image/URL, 413 too large.
    ``fetch_client`` may be None when http(s) URLs need not be supported. Pre-sizes for the
    default num_crops; ``validate_image`` takes the request's.
    """
    return (await validate_image(url, settings, fetch_client, param=param)).url


async def validate_image(
    url: str,
    settings: Settings,
    fetch_client: httpx.AsyncClient | None,
    *,
    param: str,
    num_crops: int | None = None,
    slots: DecodeSlots | None = None,
    max_bytes: int | None = None,
) -> ValidImage:
    """``validate_image_url`` for ``num_crops`` (None: ``settings.default_num_crops``), with
    the sha256 of the bytes sent. The work runs in one of ``slots`` (None: anyio's default
    threads, for callers outside the app). The URL is ``url`` itself when it was already
    right, so callers can test ``checked.url is url``. ``max_bytes`` raises what is read
    (decoded or fetched) above the image caps, for callers that also take documents
    (`DocumentNotImage`); images still obey the image cap."""
    if not isinstance(url, str) or not url:
        raise GatewayError(
            400,
            "image_url.url must be a non-empty string",
            param=param,
            code=ErrorCode.IMAGE_BAD_URL,
        )
    crops = settings.default_num_crops if num_crops is None else num_crops
    head = url[:16]
    scheme = head.split(":", 1)[0].lower() if ":" in head else ""
    if scheme == "data":
        declared, start = _data_url_head(url, settings, param=param, max_bytes=max_bytes)
        prepared = await _in_slot(slots, _prepare_data_url, url, start, settings, param, crops)
        if not prepared.presized and declared == prepared.mime:
            return ValidImage(url, prepared.digest)
        if not prepared.presized:  # right bytes, wrong media type: relabel, no re-encode
            return ValidImage(f"data:{prepared.mime};base64,{url[start:]}", prepared.digest)
        return replace(_as_valid(prepared), original=url)
    if scheme in ("http", "https"):
        if fetch_client is None:
            raise GatewayError(
                400,
                "image URLs are not fetched here; send a data URL",
                param=param,
                code=ErrorCode.IMAGE_FETCH_REFUSED,
            )
        data = await fetch_image(url, settings, fetch_client, param=param, max_bytes=max_bytes)
        prepared = await _in_slot(
            slots, prepare_image_bytes, data, settings, param=param, num_crops=crops
        )
        del data
        return _as_valid(prepared)
    shown = scheme or url[:16]
    raise GatewayError(
        400,
        f"image URL scheme '{shown}' is not allowed (use data:, https: or http:)",
        param=param,
        code=ErrorCode.IMAGE_FETCH_REFUSED,
    )


async def prepare_upload(
    data: bytes, settings: Settings, *, param: str, num_crops: int, slots: DecodeSlots | None
) -> ValidImage:
    """An uploaded file's bytes, checked and pre-sized like an image URL's."""
    prepared = await _in_slot(
        slots, prepare_image_bytes, data, settings, param=param, num_crops=num_crops
    )
    valid = _as_valid(prepared)
    return replace(valid, original=data) if valid.presized else valid


async def _in_slot(slots: DecodeSlots | None, func: Any, *args: Any, **kwargs: Any) -> Any:
    if slots is None:
        return await anyio.to_thread.run_sync(lambda: func(*args, **kwargs))
    return await slots.run(func, *args, **kwargs)


def _as_valid(prepared: PreparedImage) -> ValidImage:
    encoded = base64.b64encode(prepared.data).decode("ascii")
    return ValidImage(f"data:{prepared.mime};base64,{encoded}", prepared.digest, prepared.presized)


def _prepare_data_url(
    url: str, start: int, settings: Settings, param: str, num_crops: int
) -> PreparedImage:
    """Base64 decoding is in here, inside the slot: waiting requests hold only their text."""
    try:
        data = base64.b64decode(url[start:], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise GatewayError(
            400, "data URL is not valid base64", param=param, code=ErrorCode.IMAGE_BAD_BASE64
        ) from exc
    return prepare_image_bytes(data, settings, param=param, num_crops=num_crops)
