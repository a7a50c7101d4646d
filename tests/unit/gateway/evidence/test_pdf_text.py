"""A PDF's text layer through PDFium: every word with its box as displayed, after /Rotate and
the crop box, checked against the font's metrics and against PDFium's own rendering."""

from __future__ import annotations

from collections.abc import Callable

import pypdfium2 as pdfium
import pytest

from gateway.evidence.pdf_text import pdf_words
from tests.support.pages import (
    Box,
    Run,
    TestPage,
    invoice_page,
    iou,
    passport_page,
    text_pdf,
    word_boxes,
)


@pytest.mark.parametrize("make", [invoice_page, passport_page])
def test_every_word_of_the_text_layer_is_read_where_the_font_put_it(
    make: Callable[[], TestPage],
) -> None:
    page = make()
    (words,) = pdf_words(text_pdf([page]))
    assert words.source == "pdf_text" and words.page == 1
    truth = word_boxes(page)
    assert sorted(w.text for w in words.words) == sorted(t for t, _ in truth)
    for text, box in truth:
        best = max(iou(box, w.box) for w in words.words if w.text == text)
        assert best >= 0.6, (text, box)


def test_table_rows_are_lines() -> None:
    (words,) = pdf_words(text_pdf([invoice_page()]))
    row = [
        w
        for w in words.words
        if w.line == next(x.line for x in words.words if x.text == "Cordless")
    ]
    assert [w.text for w in row] == ["Cordless", "drill", "2", "589,50", "1.179,00"]


def test_pages_keep_their_own_numbers_under_a_selection() -> None:
    data = text_pdf([invoice_page(), passport_page(), invoice_page()])
    assert [p.page for p in pdf_words(data, [2, 3])] == [2, 3]
    assert "ERIKSSON" in [w.text for w in pdf_words(data, [2])[0].words]


def _ink(image_bytes_page: pdfium.PdfPage) -> Box:
    """The bounding box of the dark pixels of PDFium's rendering, as fractions."""
    image = image_bytes_page.render(scale=2).to_pil().convert("L")
    dark = image.point(lambda v: 255 if v < 128 else 0)
    x0, y0, x1, y1 = dark.getbbox() or (0, 0, 0, 0)
    return x0 / image.width, y0 / image.height, x1 / image.width, y1 / image.height


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
@pytest.mark.parametrize("crop", [None, (40.0, 300.0, 400.0, 800.0)])
def test_boxes_are_where_the_word_is_displayed(
    rotate: int, crop: tuple[float, float, float, float] | None
) -> None:
    page = TestPage((Run("Grounded", 120, 150, 24),), {}, ())
    data = text_pdf([page], rotate=rotate, crop=crop)
    (words,) = pdf_words(data)
    (word,) = words.words
    pdf = pdfium.PdfDocument(data)
    try:
        shown = _ink(pdf[0])
    finally:
        pdf.close()
    assert iou(word.box, shown) >= 0.8, (word.box, shown)


def test_words_outside_the_crop_box_are_dropped() -> None:
    page = TestPage((Run("Inside", 100, 100), Run("Outside", 100, 700)), {}, ())
    (words,) = pdf_words(text_pdf([page], crop=(0, 400, 595, 842)))
    assert [w.text for w in words.words] == ["Inside"]


def test_a_page_without_a_text_layer_has_no_words() -> None:
    from tests.support.documents import pdf_bytes, text_page

    (words,) = pdf_words(pdf_bytes([text_page(1)]))
    assert words.words == ()
