"""Pre-size an image to exactly the pixels Phi-3-vision will use, from its header.

vLLM's front end is one process per replica; a 12 MP phone photo costs it ~300 ms of decode
and resize before the model sees 672×504 of it. The gateway scales out, so it does that work
once, cheaply, and sends an image the processor keeps as it is:

1. the header gives the size (after EXIF orientation, which vLLM applies too), and
   ``serve.phi3v.geometry.target_size`` the size the processor would resize it to for this
   request's ``num_crops``;
2. an image at or below that size passes through byte for byte (decoded once here, to refuse
   corrupt files, and never re-encoded);
3. a larger one is decoded at reduced scale where the format allows (JPEG: ``draft`` decodes
   in the DCT domain at 1/2, 1/4 or 1/8 scale, never below the target), oriented, converted to
   RGB as vLLM converts (transparency onto white), and resized with the processor's own
   filter and axis order (Pillow bilinear; tall images transposed first), to the exact target;
4. it is encoded as the source was: PNG (fast zlib level) when the source is lossless, so
   the processor sees bit for bit the pixels of its own resize; JPEG quality 95 without
   chroma subsampling when the source was a JPEG, which is 6–8× smaller and 10–30× cheaper to
   encode and decode than lossless for a photo (``bench/results/image_path.md`` has the
   measurement).

The output bytes depend only on the input bytes and ``num_crops``, so a repeated image is
byte-identical upstream (vLLM's prefix cache hashes the bytes it receives) and its
``digest`` (sha256 of the bytes sent) is a stable routing key.

    prepared = presize_image(data, "JPEG", num_crops=4)   # CPU-bound: call in a thread
    prepared.data, prepared.mime, prepared.digest, prepared.presized
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from serve.phi3v.geometry import target_size

__all__ = [
    "LOSSY_FORMATS",
    "PreparedImage",
    "TooManyPixels",
    "encode_like_source",
    "presize_image",
    "resize_like_processor",
    "to_rgb_like_vllm",
]

LOSSY_FORMATS = frozenset({"JPEG"})
"""Sources re-encoded as JPEG; every other accepted format is re-encoded losslessly."""

JPEG_QUALITY = 95
PNG_COMPRESS_LEVEL = 1
"""zlib level 1: within ~10% of level 6's size on photos and scans, several times faster."""

_ORIENTATION = 0x0112
_SWAPS_AXES = frozenset({5, 6, 7, 8})
"""EXIF orientations that rotate by 90°: the displayed width is the stored height."""


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """The bytes to send upstream for one image, and what was learnt on the way."""

    data: bytes
    """The original bytes when ``presized`` is False, otherwise the re-encoded target."""
    format: str
    """Pillow format name of ``data``."""
    width: int
    """Width of the picture as vLLM will see it (after EXIF orientation)."""
    height: int
    presized: bool
    digest: bytes
    """sha256 of ``data``: the routing key, equal for equal input bytes and num_crops."""

    @property
    def mime(self) -> str:
        return Image.MIME[self.format]


class TooManyPixels(Exception):
    """The header declares more pixels than allowed; nothing was decoded."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__(f"{width}x{height}")
        self.width = width
        self.height = height


def presize_image(data: bytes, fmt: str, num_crops: int, max_pixels: int) -> PreparedImage:
    """``data`` (already sniffed as ``fmt``, within the byte cap) ready for vLLM.

    Raises ``TooManyPixels`` from the header alone (a decompression bomb costs nothing), and
    what Pillow raises for a corrupt or truncated file (``OSError``, ``ValueError``,
    ``SyntaxError``, ``EOFError``, ``Image.DecompressionBombError``); the caller turns those
    into 413 and 400.
    """
    with Image.open(io.BytesIO(data), formats=[fmt]) as im:
        if im.width * im.height > max_pixels:
            raise TooManyPixels(im.width, im.height)
        orientation = _orientation(im)
        swapped = orientation in _SWAPS_AXES
        width, height = (im.height, im.width) if swapped else im.size
        target = target_size(width, height, num_crops)
        if width <= target[0]:
            im.seek(0)
            im.load()  # a corrupt or truncated file fails here, not in vLLM
            return PreparedImage(data, fmt, width, height, False, hashlib.sha256(data).digest())
        if fmt == "JPEG":
            stored = (target[1], target[0]) if swapped else target
            im.draft(None, stored)
        im.load()
        picture = to_rgb_like_vllm(ImageOps.exif_transpose(im) if orientation > 1 else im)
    resized = resize_like_processor(picture, target, transposed=width < height)
    del picture
    out_fmt, encoded = encode_like_source(resized, fmt)
    return PreparedImage(encoded, out_fmt, width, height, True, hashlib.sha256(encoded).digest())


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_ORIENTATION, 1)
    except Exception:  # vLLM ignores unreadable EXIF too (normalize_image)
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def to_rgb_like_vllm(im: Image.Image) -> Image.Image:
    """RGB as vLLM's image loader makes it: anything transparent composited onto white."""
    if im.mode == "RGB":
        return im
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        rgba = im if im.mode == "RGBA" else im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return im.convert("RGB")


def resize_like_processor(
    im: Image.Image, size: tuple[int, int], *, transposed: bool
) -> Image.Image:
    """Resize as ``Phi3VImageProcessor`` does: Pillow bilinear, with tall images
    (``transposed``, decided on the original's size as the processor decides it) transposed
    first and back after.

    Pillow resizes one axis after the other (horizontal first) and rounds to 8 bits in
    between, so the order changes the low bits. Transposing resizes a tall image's height
    first; two one-axis resizes in that order give the same bits without copying the
    full-size image twice.
    """
    if not transposed:
        return im.resize(size, Image.Resampling.BILINEAR)
    tall = im.resize((im.width, size[1]), Image.Resampling.BILINEAR)
    return tall.resize(size, Image.Resampling.BILINEAR)


def encode_like_source(im: Image.Image, source_format: str) -> tuple[str, bytes]:
    """JPEG q95 4:4:4 for a JPEG source, PNG otherwise; deterministic bytes for equal pixels."""
    buf = io.BytesIO()
    if source_format in LOSSY_FORMATS:
        im.save(buf, "JPEG", quality=JPEG_QUALITY, subsampling=0)
        return "JPEG", buf.getvalue()
    im.save(buf, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    return "PNG", buf.getvalue()
