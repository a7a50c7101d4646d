"""Re-exports ``harness.pages``: it moved to a package that ships, so that the benchmarks
can use it; tests keep importing it from here."""

from harness.pages import (
    MONO,
    MRZ,
    PAGE_PT,
    SANS,
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
    word_boxes,
)

__all__ = [
    "MONO",
    "MRZ",
    "PAGE_PT",
    "SANS",
    "Box",
    "Run",
    "TestPage",
    "field_boxes",
    "invoice_page",
    "iou",
    "jpeg",
    "page_image",
    "passport_page",
    "rotated",
    "scan_like",
    "text_pdf",
    "word_boxes",
]
