"""The OCR pool's entry point for a page of anything: an image, a PDF page, a TIFF frame.

`gateway.evidence.pool.OcrPool` sends ``(data, page)`` to its workers; this reader decides
from the bytes what ``data`` is, so that the gateway process never decodes or renders a page
for OCR (memory stays with the bounded pool):

* a PDF: page ``page`` rendered again by PDFium at `OCR_DPI` (the crop grid's ~115 dpi for
  an A4 page loses 9-point print, docs/grounding.md), ``/Rotate`` and crop box applied as
  for the text layer;
* a multi-page TIFF: frame ``page``;
* an image: as sent, EXIF orientation applied.

Any page over `MAX_OCR_PIXELS` (an A4 page at ~200 dpi) is scaled down first: a 12 MP photo
costs Tesseract several times the CPU and reads no better. Boxes are fractions of the page,
so the scale does not show in them.

    OcrPool(workers, timeout, reader="gateway.evidence.pages:read_page")
"""

from __future__ import annotations

import io
import math

from PIL import Image, ImageOps

from . import ocr
from .words import PageWords

__all__ = ["MAX_OCR_PIXELS", "OCR_DPI", "READER", "read_page", "warm_up"]

OCR_DPI = 200.0
MAX_OCR_PIXELS = 4_500_000
"""About an A4 or US Letter page at 200 dpi (1654 x 2339 = 3.9 MP), with some room."""
READER = "gateway.evidence.pages:read_page"
"""This module's reader, by the name the pool's workers import it."""


def warm_up() -> None:
    """Load Tesseract's model before the worker says it is ready."""
    ocr.warm_up()


def _fit(image: Image.Image) -> Image.Image:
    pixels = image.width * image.height
    if pixels <= MAX_OCR_PIXELS:
        return image
    scale = math.sqrt(MAX_OCR_PIXELS / pixels)
    size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _pdf_page(data: bytes, page: int) -> Image.Image:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        handle = pdf[page - 1]
        try:
            width, height = handle.get_size()
            scale = OCR_DPI / 72.0
            if width * height * scale * scale > MAX_OCR_PIXELS:
                scale = math.sqrt(MAX_OCR_PIXELS / (width * height))
            image: Image.Image = handle.render(scale=scale, may_draw_forms=True).to_pil()
            return image.convert("RGB")
        finally:
            handle.close()
    finally:
        pdf.close()


def page_image(data: bytes, page: int) -> Image.Image:
    """The picture to OCR for page ``page`` of ``data`` (see the module docstring)."""
    if data[:5] == b"%PDF-" or data[:1024].lstrip().startswith(b"%PDF-"):
        return _pdf_page(data, page)
    with Image.open(io.BytesIO(data)) as opened:
        if getattr(opened, "n_frames", 1) > 1:
            opened.seek(page - 1)
        upright = ImageOps.exif_transpose(opened)
        upright.load()
        if upright.mode not in ("L", "RGB"):
            upright = upright.convert("RGB")
        return _fit(upright)


def read_page(data: bytes, page: int) -> PageWords:
    """The words of page ``page`` of ``data`` (an image, a PDF, a TIFF) by OCR."""
    warm_up()
    reader = ocr._reader
    assert reader is not None
    return reader.read(page_image(data, page), page)
