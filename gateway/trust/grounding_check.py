"""The ``grounding`` check: a transcribed value that is printed nowhere on a page read well.

Grounding (`gateway.trust.grounding.ground`) says where each transcribed value was found, or
``None``. A ``None`` is evidence of an invented value only where the page's words were read
well: a text layer (exact), or OCR whose mean word confidence on the page is at least
``GATEWAY_GROUNDING_MIN_OCR_CONFIDENCE``. On a page read badly an absent value may just be
unread, so the check is ``skipped`` there rather than crying wolf.

    >>> grounding_check({"/total": None}, {"/total": 1}, {1: True}).status
    'fail'
    >>> grounding_check({"/total": None}, {"/total": 1}, {1: False}).status
    'skipped'
"""

from __future__ import annotations

from collections.abc import Mapping

from schemas.checks import CheckResult

from ..evidence.words import PageWords
from .grounding import Grounding

__all__ = ["MIN_WORDS", "NAME", "grounding_check", "read_well"]

NAME = "grounding"
MIN_WORDS = 3
"""An OCR'd page with fewer words than this is not read well, whatever their confidence (a
photo shrunk to a thumbnail reads one word at 0.93)."""


def read_well(page: PageWords, min_ocr_confidence: float) -> bool:
    """Whether an absent value on ``page`` means it is not printed there: a text layer with
    words, or OCR that read at least `MIN_WORDS` words at a mean confidence of at least
    ``min_ocr_confidence``."""
    if page.source == "pdf_text":
        return bool(page.words)
    conf = page.mean_conf
    return conf is not None and len(page.words) >= MIN_WORDS and conf >= min_ocr_confidence


def grounding_check(
    grounding: Mapping[str, Grounding | None],
    page_of: Mapping[str, int],
    read_well_pages: Mapping[int, bool],
) -> CheckResult:
    """``fail`` listing the transcribed fields found nowhere on the page they came from
    (``page_of``) when that page was read well; ``skipped`` when every such field is on a page
    read badly (or of unknown page); ``pass`` when every field was found."""
    absent = [p for p, g in grounding.items() if g is None]
    wrong = [p for p in absent if read_well_pages.get(page_of.get(p, -1), False)]
    found = len(grounding) - len(absent)
    if wrong:
        listed = ", ".join(wrong)
        return CheckResult(
            name=NAME,
            status="fail",
            fields=wrong,
            message=f"not printed on the page: {listed} (each was read as a value that the "
            f"page's words do not contain; copy it exactly as printed, or null)",
        )
    if absent:
        pages = sorted({page_of[p] for p in absent if p in page_of})
        where = f"page(s) {', '.join(map(str, pages))}" if pages else "the page"
        return CheckResult(
            name=NAME,
            status="skipped",
            fields=absent,
            message=f"{len(absent)} field(s) not found, but {where} could not be read well "
            f"enough to tell: {', '.join(absent)}",
        )
    return CheckResult(
        name=NAME,
        status="pass",
        fields=list(grounding),
        message=f"all {found} transcribed field(s) found on the page",
    )
