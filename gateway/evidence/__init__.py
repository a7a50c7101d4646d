"""Evidence on the page: the words of a page and their boxes, from a PDF's text layer or by
OCR, for grounding extracted values (`gateway.trust.grounding`).

words.py     Word, PageWords, boxes as display fractions, visual line numbers
pdf_text.py  a PDF page's text layer through PDFium (``/Rotate`` and crop box applied)
ocr.py       Tesseract through tesserocr (EXIF orientation applied, skew-aware lines)
pool.py      OcrPool: OCR in killable worker processes with a per-page time cap

``ocr`` and ``pdf_text`` are not imported here: the first loads Tesseract, the second PDFium,
and only the processes that read pages need them.
"""

from .pool import OcrError, OcrPool
from .words import Box, PageWords, Source, Word, assign_lines

__all__ = ["Box", "OcrError", "OcrPool", "PageWords", "Source", "Word", "assign_lines"]
