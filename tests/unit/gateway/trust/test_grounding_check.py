"""The ``grounding`` check: it fails only for a value absent from a page read well."""

from __future__ import annotations

from gateway.evidence.words import PageWords, Word
from gateway.trust.grounding import Grounding
from gateway.trust.grounding_check import grounding_check, read_well

FOUND = Grounding(page=1, boxes=[[0.1, 0.1, 0.2, 0.12]], text="42", source="ocr", score=1.0)


def ocr_page(*confs: float) -> PageWords:
    words = tuple(
        Word(f"w{i}", (0.1, 0.1 * i, 0.2, 0.1 * i + 0.02), i, c) for i, c in enumerate(confs)
    )
    return PageWords(1, words, "ocr", "tesseract 5.5.4")


def test_a_text_layer_with_words_is_read_well_and_an_empty_one_is_not() -> None:
    layer = PageWords(1, (Word("Total", (0.1, 0.1, 0.2, 0.12), 0),), "pdf_text")
    assert read_well(layer, 0.99)
    assert not read_well(PageWords(1, (), "pdf_text"), 0.0)


def test_ocr_is_read_well_from_the_confidence_setting_and_three_words() -> None:
    assert read_well(ocr_page(0.9, 0.8, 0.7), 0.75)
    assert not read_well(ocr_page(0.7, 0.7, 0.7), 0.75)
    assert not read_well(ocr_page(0.95, 0.95), 0.75)  # two words: a thumbnail, not a page
    assert not read_well(ocr_page(), 0.0)


def test_an_absent_value_on_a_page_read_well_fails_naming_it() -> None:
    result = grounding_check(
        {"/total": FOUND, "/invoice_number": None}, {"/total": 1, "/invoice_number": 1}, {1: True}
    )
    assert (result.name, result.status, result.fields) == ("grounding", "fail", ["/invoice_number"])
    assert "/invoice_number" in result.message


def test_an_absent_value_on_a_page_read_badly_is_skipped() -> None:
    grounding = {"/a": None, "/b": FOUND}
    assert grounding_check(grounding, {"/a": 2, "/b": 1}, {1: True, 2: False}).status == "skipped"
    assert grounding_check(grounding, {}, {}).status == "skipped"  # page unknown: not judged


def test_only_the_fields_on_pages_read_well_fail() -> None:
    result = grounding_check({"/a": None, "/b": None}, {"/a": 1, "/b": 2}, {1: True, 2: False})
    assert result.status == "fail" and result.fields == ["/a"]


def test_everything_found_passes() -> None:
    assert grounding_check({"/total": FOUND}, {"/total": 1}, {1: True}).status == "pass"
    assert grounding_check({}, {}, {1: True}).status == "pass"
