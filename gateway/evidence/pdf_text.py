"""Words from a PDF page's text layer, through PDFium's text page: exact and cheap.

PDFium gives each character's glyph box in the page's user space (points, origin bottom-left
of the media box, before ``/Rotate``). A viewer shows the crop box, turned clockwise by
``/Rotate``; this module maps every box the same way, so that ``(0, 0)`` is the top-left of
the page as displayed and as rendered (``PdfPage.render`` applies both too). Words are runs
of characters between whitespace, PDFium's generated spaces and line breaks included; words
wholly outside the crop box are dropped.

PDFium is not thread-safe: call this where the document is rendered (a render worker
process), not from the event loop's threads.

    pdf = pypdfium2.PdfDocument(data)
    words = pdf_page_words(pdf[0], number=1)      # PageWords(source="pdf_text")
    words.words == ()                             # a scanned page: no text layer, OCR it
"""

from __future__ import annotations

from collections.abc import Sequence

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from .words import Box, PageWords, assign_lines, clamp_box

__all__ = ["display_transform", "pdf_page_words", "pdf_words"]


def display_transform(
    cropbox: tuple[float, float, float, float], rotation: int
) -> tuple[float, float, float, float, int]:
    """``(left, bottom, right, top, rotation)`` normalised: rotation in 0/90/180/270."""
    left, bottom, right, top = cropbox
    return (min(left, right), min(bottom, top), max(left, right), max(bottom, top), rotation % 360)


def _to_display(
    box: tuple[float, float, float, float], view: tuple[float, float, float, float, int]
) -> Box | None:
    """A user-space box ``(l, b, r, t)`` as display fractions, or ``None`` outside the crop."""
    left, bottom, right, top, rotation = view
    width, height = right - left, top - bottom
    if width <= 0 or height <= 0:
        return None
    x0, y0, x1, y1 = box
    if x1 < left or x0 > right or y1 < bottom or y0 > top:
        return None
    # unrotated fractions, origin top-left of the crop box
    u0, u1 = (x0 - left) / width, (x1 - left) / width
    v0, v1 = (top - y1) / height, (top - y0) / height
    if rotation == 90:  # turned clockwise: the top edge becomes the right edge
        u0, v0, u1, v1 = 1 - v1, u0, 1 - v0, u1
    elif rotation == 180:
        u0, v0, u1, v1 = 1 - u1, 1 - v1, 1 - u0, 1 - v0
    elif rotation == 270:
        u0, v0, u1, v1 = v0, 1 - u1, v1, 1 - u0
    return clamp_box(u0, v0, u1, v1)


def pdf_page_words(page: pdfium.PdfPage, number: int) -> PageWords:
    """The words of ``page`` (the document's page ``number``, 1-based) with display boxes."""
    view = display_transform(page.get_cropbox(), page.get_rotation())
    textpage = page.get_textpage()
    try:
        items: list[tuple[str, Box, float | None]] = []
        chars: list[str] = []
        bounds: list[float] = []

        def flush() -> None:
            if chars:
                box = _to_display((bounds[0], bounds[1], bounds[2], bounds[3]), view)
                if box is not None:
                    items.append(("".join(chars), box, None))
            chars.clear()
            bounds.clear()

        for index in range(textpage.count_chars()):
            code = pdfium_c.FPDFText_GetUnicode(textpage.raw, index)
            char = chr(code) if 0 < code < 0x110000 else " "
            if char.isspace():
                flush()
                continue
            cl, cb, cr, ct = textpage.get_charbox(index)
            if bounds:
                bounds[:] = [min(bounds[0], cl), min(bounds[1], cb),
                             max(bounds[2], cr), max(bounds[3], ct)]  # fmt: skip
            else:
                bounds[:] = [cl, cb, cr, ct]
            chars.append(char)
        flush()
    finally:
        textpage.close()
    return PageWords(page=number, words=assign_lines(items), source="pdf_text")


def pdf_words(data: bytes, numbers: Sequence[int] | None = None) -> list[PageWords]:
    """The words of each page of the PDF in ``data`` (or of the 1-based pages ``numbers``)."""
    pdf = pdfium.PdfDocument(data)
    try:
        wanted = numbers if numbers is not None else range(1, len(pdf) + 1)
        out = []
        for number in wanted:
            page = pdf[number - 1]
            try:
                out.append(pdf_page_words(page, number))
            finally:
                page.close()
        return out
    finally:
        pdf.close()
