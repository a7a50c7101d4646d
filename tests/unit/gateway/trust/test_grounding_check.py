"""The ``grounding`` check fails only for values absent from a page read well."""

from __future__ import annotations

from gateway.evidence.words import PageWords, Word
from gateway.trust.grounding import Grounding
from gateway.trust.grounding_check import (
    DEFAULT_MIN_OCR_CONFIDENCE,
    DEFAULT_MIN_SCORE,
    grounding_check,
    read_well,
)


def _found(page: int = 1) -> Grounding:
    return Grounding(page=page, boxes=[[0.1, 0.1, 0.2, 0.12]], text="x", source="ocr", score=1.0)


def _ocr(*confs: float) -> PageWords:
    words = tuple(
        Word(f"w{i}", (0.1, 0.1 * i, 0.2, 0.1 * i + 0.02), i, c) for i, c in enumerate(confs)
    )
    return PageWords(1, words, "ocr", "tesseract")


def test_a_text_layer_always_reads_well() -> None:
    page = PageWords(1, (Word("Total", (0.1, 0.1, 0.2, 0.12), 0),), "pdf_text")
    assert read_well(page, 0.99)
    assert read_well(PageWords(2, (), "pdf_text"), 0.99)


def test_ocr_reads_well_from_the_threshold_on_with_three_words() -> None:
    assert read_well(_ocr(0.9, 0.7, 0.8), 0.8)
    assert not read_well(_ocr(0.9, 0.6, 0.8), 0.8)
    assert not read_well(_ocr(0.95, 0.95), 0.75)  # two words: a thumbnail, not a page


def test_an_ocr_page_without_words_did_not_read_well() -> None:
    assert not read_well(PageWords(1, (), "ocr"), 0.0)


def test_a_value_missing_from_a_page_read_well_fails_and_is_named() -> None:
    result = grounding_check(
        {"/total": None, "/invoice_number": _found(), "/vendor": None},
        {"/total": 1, "/invoice_number": 1, "/vendor": 2},
        {1: True, 2: False},
    )
    assert result.name == "grounding"
    assert result.status == "fail"
    assert result.fields == ["/total"]
    assert "/total (page 1)" in result.message
    assert "1 more on pages read badly" in result.message


def test_values_missing_only_from_pages_read_badly_are_skipped() -> None:
    result = grounding_check(
        {"/total": None, "/currency": None, "/vendor": _found()},
        {"/total": 2, "/currency": 2, "/vendor": 1},
        {1: True, 2: False},
    )
    assert result.status == "skipped"
    assert result.fields == ["/total", "/currency"]
    assert "/total (page 2)" in result.message and "/currency" in result.message


def test_a_missing_value_without_a_known_page_is_not_held_against_the_answer() -> None:
    assert grounding_check({"/total": None}, {}, {1: True}).status == "skipped"
    assert grounding_check({"/total": None}, {"/total": 3}, {1: True}).status == "skipped"


def test_every_value_found_passes() -> None:
    result = grounding_check(
        {"/total": _found(), "/vendor": _found(2)}, {"/total": 1, "/vendor": 2}, {1: True, 2: True}
    )
    assert result.status == "pass"
    assert result.fields == ["/total", "/vendor"]
    assert "2 transcribed values" in result.message


def test_nothing_to_ground_passes() -> None:
    assert grounding_check({}, {}, {}).status == "pass"


def test_the_defaults_are_thresholds() -> None:
    assert 0.0 < DEFAULT_MIN_SCORE <= 1.0
    assert 0.0 <= DEFAULT_MIN_OCR_CONFIDENCE <= 1.0


def test_values_too_short_for_ocr_are_not_held_against_the_answer() -> None:
    from gateway.trust.grounding_check import too_short_for_ocr

    values = {"/line_items/0/quantity": 2.0, "/sex": "F", "/total": 12.5, "/code": " 7 "}
    short = too_short_for_ocr(values)
    assert short == {"/line_items/0/quantity", "/sex", "/code"}
    grounding = {"/line_items/0/quantity": None, "/total": _found()}
    check = grounding_check(grounding, dict.fromkeys(grounding, 1), {1: True}, short)
    assert check.status == "skipped" and check.fields == ["/line_items/0/quantity"]
    assert grounding_check(grounding, dict.fromkeys(grounding, 1), {1: True}).status == "fail"
