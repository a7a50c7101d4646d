"""Grounding: every transcribed value found where the generated page printed it (IoU >= 0.5
with the true box), from a text layer and by OCR, and an invented value found nowhere."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from PIL import ImageFont

from gateway.evidence.ocr import TesseractReader
from gateway.evidence.pdf_text import pdf_words
from gateway.evidence.words import PageWords, Word
from gateway.trust.grounding import Grounding, ground, transcribed_leaves
from gateway.trust.spellings import amount_values, date_spellings, normalise
from tests.support.pages import (
    MONO,
    MRZ,
    Box,
    Run,
    TestPage,
    field_boxes,
    invoice_page,
    iou,
    jpeg,
    page_image,
    passport_page,
    rotated,
    scan_like,
    text_pdf,
)

# --- normalisation ----------------------------------------------------------------------------


def test_normalise_folds_case_whitespace_dashes_and_edge_punctuation() -> None:
    assert normalise("  Invoice\tNo.: ") == "invoice no"
    assert normalise("INV\u20132026\u20110042") == "inv-2026-0042"
    assert normalise("(1.253,70)") == "1.253,70"


@pytest.mark.parametrize(
    ("printed", "value"),
    [
        ("1.253,70", "1253.70"),
        ("1,253.70", "1253.70"),
        ("1 253,70", "1253.70"),
        ("1'253.70", "1253.70"),
        ("EUR 1.253,70", "1253.70"),
        ("€1,253.70", "1253.70"),
        ("1253.7", "1253.7"),
        ("24,90", "24.90"),
        ("-12,50", "-12.50"),
        ("1.000.000", "1000000"),
        ("42", "42"),
    ],
)
def test_amounts_are_read_in_every_usual_spelling(printed: str, value: str) -> None:
    assert Decimal(value) in amount_values(printed)


def test_an_ambiguous_separator_means_either_reading_and_text_means_none() -> None:
    assert amount_values("1.179") == {Decimal("1.179"), Decimal("1179")}
    assert amount_values("INV-2026-0042") == set()
    assert amount_values("Total") == set()


def test_an_iso_date_is_spelled_as_pages_print_it() -> None:
    spellings = date_spellings(date(1974, 8, 12))
    for printed in ("12.08.1974", "12 AUG 1974", "August 12, 1974", "1974-08-12", "12/08/1974"):
        assert normalise(printed) in spellings, printed


def test_transcribed_pointers_with_stars_name_only_non_null_leaves() -> None:
    data = {"a": 1, "b": None, "items": [{"x": "p", "y": 2}, {"x": "", "y": 3}], "s": "derived"}
    leaves = dict(transcribed_leaves(data, ["/a", "/b", "/items/*/x", "/items/*/y"]))
    assert leaves == {"/a": 1, "/items/0/x": "p", "/items/0/y": 2, "/items/1/y": 3}


# --- grounding on generated pages -------------------------------------------------------------


@cache
def _reader() -> TesseractReader:
    return TesseractReader()


def _assert_grounded(
    page: TestPage, result: dict[str, Grounding | None], boxes: Callable[[str], list[Box]]
) -> None:
    assert set(result) == {p for p, _ in transcribed_leaves(page.data, page.transcribed)}
    for pointer, found in result.items():
        assert found is not None, f"{pointer} was not found"
        truth = boxes(pointer)
        assert len(found["boxes"]) == len(truth), (pointer, found)
        for box, true in zip(found["boxes"], truth, strict=True):
            assert iou(box, true) >= 0.5, (pointer, found, truth)
        assert 0.8 <= found["score"] <= 1.0


@pytest.mark.parametrize("make", [invoice_page, passport_page])
def test_every_transcribed_value_is_grounded_on_the_text_layer(
    make: Callable[[], TestPage],
) -> None:
    page = make()
    pages = pdf_words(text_pdf([passport_page(), page]), [2])
    result = ground(page.data, page.transcribed, pages)
    _assert_grounded(page, result, lambda p: field_boxes(page, p))
    assert {g["page"] for g in result.values() if g} == {2}
    assert {g["source"] for g in result.values() if g} == {"pdf_text"}
    assert "/summary" not in result  # derived: never grounded


@pytest.mark.parametrize("variant", ["clean", "scan", "photo"])
@pytest.mark.parametrize("make", [invoice_page, passport_page])
def test_every_transcribed_value_is_grounded_by_ocr(
    make: Callable[[], TestPage], variant: str
) -> None:
    page = make()
    if variant == "clean":
        image, boxes = page_image(page, 200), lambda p: field_boxes(page, p)
    elif variant == "scan":
        image, boxes = scan_like(page), lambda p: field_boxes(page, p)
    else:  # a photo of it: turned 3 degrees and recompressed
        upright = page_image(page, 200)
        turned, _ = rotated(upright, 3.0, [])
        image = jpeg(turned, 70)

        def boxes(pointer: str) -> list[Box]:
            marked = [(pointer, b) for b in field_boxes(page, pointer)]
            return [b for _, b in rotated(upright, 3.0, marked)[1]]

    result = ground(page.data, page.transcribed, [_reader().read(image, page=1)])
    _assert_grounded(page, result, boxes)
    assert {g["source"] for g in result.values() if g} == {"ocr"}


@pytest.mark.parametrize(
    ("pointer", "invented"),
    [
        ("/invoice_number", "INV-2025-7718"),
        ("/total", 2253.7),
        ("/invoice_date", "2026-08-21"),
        ("/customer", "John Smith"),
        ("/line_items/1/amount", 31.4),
    ],
)
def test_an_invented_value_is_not_grounded(pointer: str, invented: object) -> None:
    page = invoice_page()
    data = copy.deepcopy(page.data)
    parts = pointer.strip("/").split("/")
    node: Any = data
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    node[parts[-1]] = invented
    result = ground(data, page.transcribed, pdf_words(text_pdf([page])))
    assert result[pointer] is None
    assert sum(g is None for g in result.values()) == 1


def test_a_repeated_value_is_taken_from_its_rows_line() -> None:
    page = invoice_page()  # 24,90 is the unit price of rows 1 and 2, and row 1's amount
    result = ground(page.data, page.transcribed, pdf_words(text_pdf([page])))
    for pointer in (
        "/line_items/1/unit_price",
        "/line_items/1/amount",
        "/line_items/2/unit_price",
        "/line_items/2/quantity",
    ):
        found = result[pointer]
        assert found is not None
        assert iou(found["boxes"][0], field_boxes(page, pointer)[0]) >= 0.5, pointer


def test_a_date_printed_only_in_the_mrz_is_grounded_inside_it() -> None:
    full = passport_page()
    runs = tuple(r for r in full.runs if r.field != "/date_of_birth")
    page = TestPage(runs, full.data, ("/date_of_birth",))
    result = ground(page.data, page.transcribed, pdf_words(text_pdf([page])))
    found = result["/date_of_birth"]
    assert found is not None and found["text"] == "740812"
    (line,) = [r for r in page.runs if r.text == MRZ[1]]
    font = ImageFont.truetype(str(MONO), 120)
    start = MRZ[1].index("740812")
    x0 = line.x + font.getlength(MRZ[1][:start]) * line.size / 120
    x1 = line.x + font.getlength(MRZ[1][: start + 6]) * line.size / 120
    truth = (
        x0 / page.size[0],
        (line.baseline - 9) / page.size[1],
        x1 / page.size[0],
        line.baseline / page.size[1],
    )
    assert iou(found["boxes"][0], truth) >= 0.5


def test_a_multi_word_value_has_a_box_per_word() -> None:
    page = passport_page()
    result = ground(page.data, ["/given_names"], pdf_words(text_pdf([page])))
    found = result["/given_names"]
    assert found is not None and found["text"] == "ANNA MARIA" and len(found["boxes"]) == 2


def test_ocr_noise_is_matched_fuzzily_with_a_lower_score() -> None:
    words = (
        Word("Invoice", (0.1, 0.1, 0.2, 0.12), 0, 0.9),
        Word("1NV-2026-0O42", (0.3, 0.1, 0.5, 0.12), 0, 0.6),
        Word("1.253,7O", (0.6, 0.1, 0.7, 0.12), 0, 0.6),
    )
    result = ground({"n": "INV-2026-0042", "t": 1253.7}, ["/n", "/t"], [PageWords(1, words, "ocr")])
    n, t = result["/n"], result["/t"]
    assert n is not None and 0.8 <= n["score"] < 1.0 and n["text"] == "1NV-2026-0O42"
    assert t is not None and 0.8 <= t["score"] < 1.0


def test_no_pages_ground_nothing_and_a_blank_answer_grounds_no_key() -> None:
    page = invoice_page()
    assert set(ground(page.data, page.transcribed, []).values()) == {None}
    assert ground({"vendor": None}, ["/vendor"], pdf_words(text_pdf([page]))) == {}


def test_the_run_helper_is_used_by_the_generator() -> None:
    assert Run("x", 0, 0).size == 11.0


def test_an_mrz_word_read_with_a_speck_before_it_still_holds_its_date() -> None:
    line = ".898902C36UT07408122F27041592"  # Tesseract's reading of a tilted MRZ line
    words = (Word(line, (0.1, 0.5, 0.7, 0.52), 0, 0.7),)
    found = ground({"dob": "1974-08-12"}, ["/dob"], [PageWords(1, words, "ocr")])["/dob"]
    assert found is not None and found["text"] == "740812"
    x0, _, x1, _ = found["boxes"][0]
    start = line.index("740812")
    assert abs(x0 - (0.1 + 0.6 * start / len(line))) < 1e-4
    assert abs(x1 - (0.1 + 0.6 * (start + 6) / len(line))) < 1e-4


def _line(*texts: str) -> PageWords:
    """One printed line, each word 0.1 wide, after a label word."""
    words = [Word("Label:", (0.0, 0.5, 0.08, 0.52), 0, None)]
    words += [
        Word(t, (0.1 * i, 0.5, 0.1 * i + 0.08, 0.52), 0, None) for i, t in enumerate(texts, 1)
    ]
    return PageWords(1, tuple(words), "pdf_text")


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        ("1974-08-12", ["12.08.1974"]),
        ("1974-08-12", ["12", "AUG", "1974"]),
        ("1974-08-12", ["August", "12,", "1974"]),
        ("1974-08-12", ["1974-08-12"]),
        (1253.7, ["1,253.70"]),
        (1253.7, ["€", "1", "253,70"]),
        ("EUR 1,253.70", ["1.253,70"]),
        ("USD", ["$"]),
        ("INV-2026-0042", ["INV\u20132026\u20130042"]),
    ],
)
def test_values_are_grounded_in_the_forms_pages_print_them(
    value: object, printed: list[str]
) -> None:
    found = ground({"v": value}, ["/v"], [_line(*printed)])["/v"]
    assert found is not None and found["score"] == 1.0
    numeric = [t for t in printed if t not in ("€", "$")] if value != "USD" else printed
    assert found["text"] == " ".join(numeric)
    assert len(found["boxes"]) == len(numeric)
