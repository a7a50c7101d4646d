"""Re-exports ``harness.documents``: it moved to a package that ships, so that the benchmarks
can use it; tests keep importing it from here."""

from harness.documents import (
    A4_AT_150_DPI,
    crashing_target,
    encrypted_pdf,
    hanging_target,
    invoice_pages,
    no_pages_pdf,
    pdf_bytes,
    photo_page,
    scaled_target,
    text_page,
    tiff_bytes,
)

__all__ = [
    "A4_AT_150_DPI",
    "crashing_target",
    "encrypted_pdf",
    "hanging_target",
    "invoice_pages",
    "no_pages_pdf",
    "pdf_bytes",
    "photo_page",
    "scaled_target",
    "text_page",
    "tiff_bytes",
]
