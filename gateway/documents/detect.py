"""Which bytes are a document (PDF, TIFF) rather than a single picture.

Detection reads magic numbers, never the declared media type: a PDF sent as
``data:image/png;base64,…`` is still a PDF. PDF readers accept the ``%PDF-`` header anywhere in
the first 1,024 bytes (some generators put a byte-order mark or junk first), so this does too.
Every TIFF counts as a document: a multi-page fax or scan is common, and a single-page TIFF is
a document of one page (the image path does not take TIFF at all).

    >>> document_kind(b"%PDF-1.7\\n...")
    'pdf'
    >>> document_kind(b"\\x89PNG\\r\\n\\x1a\\n") is None
    True
"""

from __future__ import annotations

from typing import Literal

__all__ = ["DocumentKind", "MIME_TYPES", "document_kind"]

DocumentKind = Literal["pdf", "tiff"]

MIME_TYPES: dict[DocumentKind, str] = {"pdf": "application/pdf", "tiff": "image/tiff"}
"""What a data URL of each kind declares (``data:application/pdf;base64,…``)."""

_PDF_HEADER_WINDOW = 1024
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF


def document_kind(data: bytes) -> DocumentKind | None:
    """``"pdf"`` or ``"tiff"`` from the first bytes, else None (an image, or nothing known)."""
    if data.startswith(_TIFF_MAGIC):
        return "tiff"
    if b"%PDF-" in data[:_PDF_HEADER_WINDOW]:
        return "pdf"
    return None
