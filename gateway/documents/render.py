"""Documents → page images at the size the model will use. Runs inside a render worker.

Each selected page becomes a PNG no larger than the pixels Phi-3.5-vision will use for it:
``target(width, height, num_crops)`` (the HD-transform geometry) gives that size from the
page's aspect ratio, so a dense A4 page at 16 crops is rendered at 949×1344, not at 300 dpi
(2480×3508, 7× the pixels) only for vLLM to shrink it again.

* PDF pages are rendered by PDFium (pypdfium2) straight at the target size, AcroForm field
  values included. The "natural" size handed to ``target`` is the page at 300 dpi; only its
  aspect ratio matters to the geometry.
* TIFF frames are decoded by Pillow, one at a time, and shrunk to the target when larger
  (never enlarged: vLLM enlarges a small image anyway, and the original bytes are smaller).

A preview (``RenderJob.thumbnail``) renders the same pages into a small box as JPEG instead,
for a person to look at (``POST /v1/documents/preview``); every cap and refusal is the same.

PDFium is not thread-safe, and a hostile PDF can keep it busy indefinitely; that is why this
runs in a worker process the gateway can kill (`gateway.documents.pool`), never in a thread.
Every refusal is a `DocumentError` naming ``param`` and, for caps, the setting.
"""

from __future__ import annotations

import base64
import io
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pypdfium2 as pdfium
from PIL import Image, UnidentifiedImageError

from ..errors import ErrorCode
from .detect import DocumentKind
from .errors import DocumentError
from .pages import PageSelection

__all__ = [
    "NATURAL_DPI",
    "DocumentLimits",
    "RenderJob",
    "RenderedDocument",
    "RenderedPage",
    "TargetSize",
    "render_document",
    "timeout_error",
]

TargetSize = Callable[[int, int, int], tuple[int, int]]
"""``(width, height, num_crops) → (target width, target height)``; module-level, so that it
pickles into the worker process by reference."""

NATURAL_DPI = 300
"""A PDF page's size is handed to ``target`` as pixels at this resolution (a scanner's)."""

_PNG_LEVEL = 1
"""zlib level 1: a text page's PNG is barely larger than at level 6 and encodes 3-4x faster."""
_THUMBNAIL_QUALITY = 80
"""JPEG quality of a preview: a 256-px page is a few KB, and its text is still legible."""


@dataclass(frozen=True)
class DocumentLimits:
    """The caps on one document; each is a gateway setting (named in the refusal)."""

    max_pages: int = 20
    """Pages rendered per document (after the ``pages`` selection)."""
    max_bytes: int = 32 * 1024 * 1024
    """Bytes of the document file."""
    max_page_pixels: int = 50_000_000
    """Pixels of one page as rendered, or as decoded for a TIFF frame (bomb guard)."""
    render_timeout_s: float = 30.0
    """Wall time for rendering the whole document."""


@dataclass(frozen=True)
class RenderJob:
    """Everything the worker needs for one document; pickled into the worker process."""

    data: bytes
    kind: DocumentKind
    selection: PageSelection
    num_crops: int
    target: TargetSize
    limits: DocumentLimits
    param: str
    """The request field the document came in (``image``, ``image_url``): named in errors."""
    thumbnail: int | None = None
    """A preview: each page as a JPEG fitting this many pixels a side, instead of at the
    model's target size (a person looks at it, the model never does); and with no ``pages``
    selection, a longer document shows its first ``max_pages`` pages instead of being refused
    (``page_count`` tells the rest)."""


@dataclass(frozen=True)
class RenderedPage:
    """One page, ready to be a data URL: 1-based ``number`` as in the document."""

    number: int
    width: int
    height: int
    mime: str
    data: bytes

    def data_url(self) -> str:
        return f"data:{self.mime};base64," + base64.b64encode(self.data).decode("ascii")


@dataclass(frozen=True)
class RenderedDocument:
    """The selected pages in document order, and what rendering them took."""

    kind: DocumentKind
    page_count: int
    """Pages in the whole document, selected or not."""
    pages: tuple[RenderedPage, ...]
    render_s: float


def render_document(job: RenderJob) -> RenderedDocument:
    """Render ``job``'s selected pages; raises `DocumentError` for every refusal."""
    started = time.monotonic()
    if len(job.data) > job.limits.max_bytes:
        raise DocumentError(
            413,
            f"document is {len(job.data)} bytes; the limit is {job.limits.max_bytes} "
            f"(GATEWAY_DOCUMENT_MAX_BYTES)",
            param=job.param,
            code=ErrorCode.DOCUMENT_TOO_LARGE,
        )
    if job.kind == "pdf":
        count, pages = _render_pdf(job, started)
    else:
        count, pages = _split_tiff(job, started)
    return RenderedDocument(job.kind, count, tuple(pages), time.monotonic() - started)


def _selected(job: RenderJob, page_count: int) -> list[int]:
    if page_count < 1:
        raise DocumentError(
            400, "the document has no pages", param=job.param, code=ErrorCode.DOCUMENT_NO_PAGES
        )
    numbers = job.selection.resolve(page_count)
    if job.thumbnail is not None and not job.selection.ranges:
        numbers = numbers[: job.limits.max_pages]
    if len(numbers) > job.limits.max_pages:
        raise DocumentError(
            413,
            f"document would render {len(numbers)} pages; the limit is {job.limits.max_pages} "
            f"per request (GATEWAY_DOCUMENT_MAX_PAGES); choose some with pages, e.g. "
            f"'1-{job.limits.max_pages}'",
            param=job.param,
            code=ErrorCode.DOCUMENT_TOO_MANY_PAGES,
        )
    return numbers


def _check_time(job: RenderJob, started: float) -> None:
    if time.monotonic() - started > job.limits.render_timeout_s:
        raise timeout_error(job)


def timeout_error(job: RenderJob) -> DocumentError:
    """The refusal of a document that took longer than its render deadline."""
    return DocumentError(
        413,
        f"document took longer than {job.limits.render_timeout_s:g} s to render "
        f"(GATEWAY_DOCUMENT_RENDER_TIMEOUT_S)",
        param=job.param,
        code=ErrorCode.DOCUMENT_RENDER_TIMEOUT,
    )


def _check_pixels(job: RenderJob, number: int, width: int, height: int) -> None:
    if width * height > job.limits.max_page_pixels:
        raise DocumentError(
            413,
            f"page {number} is {width}x{height} = {width * height} pixels; the limit is "
            f"{job.limits.max_page_pixels} (GATEWAY_DOCUMENT_MAX_PAGE_PIXELS)",
            param=job.param,
            code=ErrorCode.DOCUMENT_PAGE_TOO_MANY_PIXELS,
        )


def _size(job: RenderJob, width: int, height: int) -> tuple[int, int]:
    """The pixels a page is rendered at: the model's target, or the preview's box."""
    if job.thumbnail is None:
        return job.target(width, height, job.num_crops)
    scale = min(1.0, job.thumbnail / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _page(job: RenderJob, number: int, image: Image.Image) -> RenderedPage:
    """PNG for the model (lossless text); JPEG for a preview (small, for a person's eye)."""
    out = io.BytesIO()
    if job.thumbnail is None:
        image.save(out, format="PNG", compress_level=_PNG_LEVEL)
        mime = "image/png"
    else:
        rgb = image if image.mode in ("RGB", "L") else image.convert("RGB")
        rgb.save(out, format="JPEG", quality=_THUMBNAIL_QUALITY)
        mime = "image/jpeg"
    return RenderedPage(number, image.width, image.height, mime, out.getvalue())


# --- PDF ----------------------------------------------------------------------------------------

_EMPTY_PAGE_TREE = re.compile(rb"/Count\s+0(?![0-9.])")


def _open_pdf(job: RenderJob) -> pdfium.PdfDocument:
    if b"%%EOF" not in job.data[-2048:]:
        # PDFium would reconstruct what it can and quietly drop the rest of the pages.
        raise DocumentError(
            400,
            "the PDF is truncated (no %%EOF marker at its end); send the whole file",
            param=job.param,
            code=ErrorCode.DOCUMENT_TRUNCATED,
        )
    try:
        return pdfium.PdfDocument(job.data)
    except pdfium.PdfiumError:
        raise _unreadable(job) from None


def _unreadable(job: RenderJob) -> DocumentError:
    """Why PDFium refused the file. Its error code is not enough: FPDF_GetLastError keeps the
    previous failure's code when a load fails without setting one (an empty page tree does),
    so a worker that once saw an encrypted file would call the next bad file encrypted.
    The file's own markers decide instead."""
    if b"/Encrypt" in job.data:
        message = "the PDF is encrypted (password-protected); send it decrypted"
        return DocumentError(400, message, param=job.param, code=ErrorCode.DOCUMENT_ENCRYPTED)
    if _EMPTY_PAGE_TREE.search(job.data):
        return DocumentError(
            400, "the PDF has no pages", param=job.param, code=ErrorCode.DOCUMENT_NO_PAGES
        )
    message = "the PDF could not be read (corrupt, or not a PDF)"
    return DocumentError(400, message, param=job.param, code=ErrorCode.DOCUMENT_CORRUPT)


def _render_pdf(job: RenderJob, started: float) -> tuple[int, list[RenderedPage]]:
    pdf = _open_pdf(job)
    try:
        count = len(pdf)
        numbers = _selected(job, count)
        pdf.init_forms()  # filled-in AcroForm values are part of what the page shows
        pages = []
        for number in numbers:
            _check_time(job, started)
            pages.append(_render_pdf_page(job, pdf, number))
        _check_time(job, started)
        return count, pages
    finally:
        pdf.close()


def _render_pdf_page(job: RenderJob, pdf: pdfium.PdfDocument, number: int) -> RenderedPage:
    try:
        page = pdf[number - 1]
    except pdfium.PdfiumError:
        raise _corrupt_page(job, number) from None
    try:
        width_pt, height_pt = page.get_size()
        if not (width_pt > 0 and height_pt > 0):
            raise _corrupt_page(job, number)
        natural = (_px(width_pt), _px(height_pt))
        width, height = _size(job, *natural)
        _check_pixels(job, number, width, height)
        bitmap = page.render(scale=width / width_pt, may_draw_forms=True)
        image = bitmap.to_pil()
        if image.size != (width, height):  # ceil() of a float scale: at most a pixel off
            canvas = Image.new("RGB", (width, height), "white")
            canvas.paste(image, (0, 0))
            image = canvas
        return _page(job, number, image)
    except pdfium.PdfiumError:
        raise _corrupt_page(job, number) from None
    finally:
        page.close()


def _px(points: float) -> int:
    return max(1, round(points * NATURAL_DPI / 72))


def _corrupt_page(job: RenderJob, number: int) -> DocumentError:
    return DocumentError(
        400,
        f"page {number} of the PDF could not be read",
        param=job.param,
        code=ErrorCode.DOCUMENT_CORRUPT,
    )


# --- TIFF ---------------------------------------------------------------------------------------

_GREY_MODES = frozenset({"1", "L", "LA"})


def _split_tiff(job: RenderJob, started: float) -> tuple[int, list[RenderedPage]]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Corrupt EXIF data" and the like: refused below
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(job.data), formats=["TIFF"]) as tiff:
                count = int(getattr(tiff, "n_frames", 1))
                pages = []
                for number in _selected(job, count):
                    _check_time(job, started)
                    tiff.seek(number - 1)
                    _check_pixels(job, number, *tiff.size)
                    pages.append(_tiff_page(job, tiff, number))
                _check_time(job, started)
                return count, pages
    except DocumentError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DocumentError(
            413,
            f"a TIFF page has more than {job.limits.max_page_pixels} pixels "
            f"(GATEWAY_DOCUMENT_MAX_PAGE_PIXELS)",
            param=job.param,
            code=ErrorCode.DOCUMENT_PAGE_TOO_MANY_PIXELS,
        ) from None
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        TypeError,
        KeyError,
        EOFError,
    ):
        raise DocumentError(
            400,
            "the TIFF could not be decoded (corrupt or truncated)",
            param=job.param,
            code=ErrorCode.DOCUMENT_CORRUPT,
        ) from None


def _tiff_page(job: RenderJob, tiff: Image.Image, number: int) -> RenderedPage:
    frame = tiff.convert("L" if tiff.mode in _GREY_MODES else "RGB")
    width, height = _size(job, frame.width, frame.height)
    if frame.width * frame.height > width * height:
        frame = frame.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return _page(job, number, frame)
