"""Evidence on the page: the words of a page and their boxes, from a PDF's text layer or by
OCR, for grounding extracted values (`gateway.trust.grounding`).

words.py     Word, PageWords, boxes as display fractions, visual line numbers
pdf_text.py  a PDF page's text layer through PDFium (``/Rotate`` and crop box applied)
ocr.py       Tesseract through tesserocr (EXIF orientation applied, skew-aware lines)
pool.py      OcrPool: OCR in killable worker processes with a per-page time cap

``ocr`` and ``pdf_text`` are not imported here: the first loads Tesseract, the second PDFium,
and only the processes that read pages need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .pool import OcrError, OcrPool
from .words import Box, PageWords, Source, Word, assign_lines

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["Box", "OcrError", "OcrPool", "PageWords", "Source", "Word", "assign_lines", "ocr_pool"]


def ocr_pool(settings: Settings) -> OcrPool | None:
    """The OCR pool an app or a predictor owns (``GATEWAY_OCR_WORKERS``, 0: none); its
    workers read any page (`gateway.evidence.pages`) and start on the first page."""
    if settings.ocr_workers < 1:
        return None
    return OcrPool(
        settings.ocr_workers, settings.ocr_page_timeout_s, reader="gateway.evidence.pages:read_page"
    )
