"""The ``grounding`` check: a transcribed value that is printed nowhere on a page that was read
well is sent to review; one missing from a page read badly is not held against the answer.

Grounding (`grounding.ground`) says where each transcribed value was found, or ``None``. A
``None`` means "absent" only if the page's words can be trusted: a PDF's text layer always
can; OCR can when its own mean word confidence on the page reaches a threshold. Otherwise a
missing value may just be unread, and failing it would cry wolf, so the check is skipped.

    >>> from gateway.evidence.words import PageWords, Word
    >>> words = tuple(Word(w, (0, 0, 1, 1), 0, 0.95) for w in ("Total", "EUR", "12.50"))
    >>> read_well(PageWords(1, words, "ocr"), 0.6)
    True
    >>> grounding_check({"/total": None}, {"/total": 1}, {1: True}).status
    'fail'

The thresholds were chosen by measurement (``bench/grounding.py``, `bench/results/grounding.md`):
on generated invoices and passports with the true values grounding must send at most 2% of
documents to review and catch at least 95% of single invented values.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from schemas.checks import CheckResult, failed, passed, skipped

from ..evidence.words import PageWords
from .grounding import Grounding
from .spellings import normalise

__all__ = [
    "CHECK_NAME",
    "DEFAULT_MIN_OCR_CONFIDENCE",
    "DEFAULT_MIN_SCORE",
    "MIN_OCR_CHARS",
    "MIN_WORDS",
    "grounding_check",
    "read_well",
    "too_short_for_ocr",
]

CHECK_NAME = "grounding"
MIN_WORDS = 3
"""An OCR'd page with fewer words than this is not read well, whatever their confidence (a
photo shrunk to a thumbnail reads one word at 0.93)."""
DEFAULT_MIN_SCORE = 0.8
"""The least rapidfuzz similarity (÷ 100) that counts as found (``GATEWAY_GROUNDING_MIN_SCORE``).
Measured on 20 generated invoices and 20 passports (bench/results/grounding.md): from 0.7 to
0.85 no source sends more clean documents to review, and catch rates differ by under half a
point (a changed digit is ruled out at any score); at 0.9 OCR noise on the tilted photos
starts to cost reviews, and at 0.6 catches drop. 0.8 keeps a margin on both sides."""
DEFAULT_MIN_OCR_CONFIDENCE = 0.7
"""The least mean Tesseract word confidence (0-1) at which an OCR page counts as read well
(``GATEWAY_GROUNDING_MIN_OCR_CONFIDENCE``). On the generated pages (clean 200 dpi, 150 dpi
scan-like, ±3° JPEG q70) the lowest page mean was 0.79, so at 0.7 every one of them is checked
and only pages read worse than any of ours are skipped; at 0.8 and above catches are lost on
the tilted photos without a review fewer (bench/results/grounding.md)."""


MIN_OCR_CHARS = 2
"""A value shorter than this (a one-digit quantity, a one-letter code) is not held against an
answer on an OCR page: Tesseract drops or misreads lone characters on pages it otherwise reads
well, which sent 10-32% of clean generated documents to review (bench/results/grounding.md),
and finding a lone digit somewhere on a page proves little anyway. A text layer is exact, so
there every value counts."""


def _printed(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 2.0 is printed "2"
    return normalise(str(value))


def too_short_for_ocr(values: Mapping[str, Any]) -> set[str]:
    """The pointers of ``values`` (pointer → value) too short to be judged on an OCR page
    (`MIN_OCR_CHARS`)."""
    return {p for p, v in values.items() if len(_printed(v).replace(" ", "")) < MIN_OCR_CHARS}


def read_well(page: PageWords, min_ocr_confidence: float) -> bool:
    """Whether an absent value on ``page`` means it is not printed there: always for a text
    layer (exact), for OCR when it read at least `MIN_WORDS` words at a mean confidence of at
    least ``min_ocr_confidence``. An OCR page with no words at all was not read well."""
    if page.source == "pdf_text":
        return True
    mean = page.mean_conf
    return mean is not None and len(page.words) >= MIN_WORDS and mean >= min_ocr_confidence


def _page_label(pointer: str, page_of: Mapping[str, int]) -> str:
    page = page_of.get(pointer)
    return pointer if page is None else f"{pointer} (page {page})"


def grounding_check(
    grounding: Mapping[str, Grounding | None],
    page_of: Mapping[str, int],
    read_well_pages: Mapping[int, bool],
    unjudged: Collection[str] = (),
) -> CheckResult:
    """The ``grounding`` check over one answer's grounding map.

    ``page_of`` gives, for each pointer, the document page its value belongs to (the page
    that was searched: one image, one page of a document, or a merged value's source page);
    ``read_well_pages`` says, per page number, whether that page's words were read well
    (`read_well`). A pointer without a page, or on a page not in ``read_well_pages``, counts
    as read badly: nothing says its absence is real. So does a pointer in ``unjudged`` (a
    value too short to tell on its OCR page, `too_short_for_ocr`).

    ``fail`` lists the pointers grounded ``None`` on a page read well; ``skipped`` when some
    are ``None`` but every one of them is on a page read badly; ``pass`` when every value was
    found (or there was nothing to ground)."""
    missing = [p for p, g in grounding.items() if g is None]
    absent = [
        p for p in missing if p not in unjudged and read_well_pages.get(page_of.get(p, -1), False)
    ]
    unread = [p for p in missing if p not in absent]
    found = [p for p, g in grounding.items() if g is not None]
    if absent:
        names = ", ".join(_page_label(p, page_of) for p in absent)
        extra = f"; {len(unread)} more on pages read badly" if unread else ""
        return failed(
            CHECK_NAME,
            absent,
            f"not found on the page, though its words were read well: {names}{extra} (copy "
            "each value exactly as printed, or null if it is not printed)",
        )
    if unread:
        names = ", ".join(_page_label(p, page_of) for p in unread)
        return skipped(
            CHECK_NAME,
            unread,
            f"not found, but only on pages read badly (OCR confidence too low) or too short "
            f"to tell by OCR: {names}",
        )
    if not found:
        return passed(CHECK_NAME, [], "no transcribed value to ground")
    return passed(CHECK_NAME, found, f"all {len(found)} transcribed values found on the page")
