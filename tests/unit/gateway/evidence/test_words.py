"""Words, boxes and visual lines: the shape both sources produce."""

from __future__ import annotations

from gateway.evidence import PageWords, Word, assign_lines
from gateway.evidence.words import clamp_box


def test_words_sharing_their_height_are_one_line_in_reading_order() -> None:
    items = [
        ("Amount", (0.70, 0.300, 0.80, 0.315), None),
        ("Qty", (0.50, 0.302, 0.55, 0.314), None),
        ("Total", (0.50, 0.400, 0.60, 0.415), None),
        ("Description", (0.10, 0.301, 0.30, 0.316), None),
    ]
    words = assign_lines(items)
    assert [(w.text, w.line) for w in words] == [
        ("Description", 0),
        ("Qty", 0),
        ("Amount", 0),
        ("Total", 1),
    ]


def test_a_skewed_row_stays_one_line_when_the_skew_is_given() -> None:
    # two rows falling 0.05 of the page's height across its width: without the skew the
    # right end of the upper row is level with the left end of the lower one
    slope = 0.05
    items = [
        (f"{row}{column}", (x, y0 + slope * x, x + 0.1, y0 + 0.012 + slope * x), None)
        for row, y0 in (("a", 0.300), ("b", 0.330))
        for column, x in (("1", 0.1), ("2", 0.4), ("3", 0.8))
    ]
    flat = {w.text: w.line for w in assign_lines(items)}
    assert flat["a3"] != flat["a1"], "the test needs a skew that breaks flat lines"
    lines = {w.text: w.line for w in assign_lines(items, slope=slope)}
    assert lines == {"a1": 0, "a2": 0, "a3": 0, "b1": 1, "b2": 1, "b3": 1}


def test_boxes_are_ordered_and_clipped_to_the_page() -> None:
    assert clamp_box(0.5, 0.9, -0.1, 1.2) == (0.0, 0.9, 0.5, 1.0)


def test_mean_confidence_is_none_for_a_text_layer() -> None:
    ocr = PageWords(1, (Word("a", (0, 0, 1, 1), 0, 0.9), Word("b", (0, 0, 1, 1), 0, 0.7)), "ocr")
    assert ocr.mean_conf is not None and abs(ocr.mean_conf - 0.8) < 1e-9
    assert PageWords(1, (Word("a", (0, 0, 1, 1), 0),), "pdf_text").mean_conf is None
