"""Documents are told from images by their bytes, never by the declared type."""

from __future__ import annotations

import pickle

from gateway.documents import DocumentError, document_kind
from gateway.errors import GatewayError
from tests.support.documents import pdf_bytes, text_page, tiff_bytes
from tests.support.images import image_bytes, make_image


def test_pdf_and_tiff_are_documents_and_pictures_are_not() -> None:
    assert document_kind(pdf_bytes([text_page(1)])) == "pdf"
    assert document_kind(tiff_bytes([text_page(1)])) == "tiff"
    assert document_kind(tiff_bytes([text_page(1)], compression="raw")) == "tiff"
    assert document_kind(image_bytes(make_image(32, 32))) is None
    assert document_kind(image_bytes(make_image(32, 32), "JPEG")) is None
    assert document_kind(b"") is None


def test_pdf_header_after_leading_junk_is_still_a_pdf() -> None:
    assert document_kind(b"\xef\xbb\xbf" + b" " * 500 + b"%PDF-1.7\n") == "pdf"
    assert document_kind(b" " * 2000 + b"%PDF-1.7\n") is None


def test_document_errors_cross_the_process_boundary_intact() -> None:
    error = DocumentError(413, "too many pages", param="image", code="document_too_many_pages")
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, GatewayError)
    assert (copy.status, copy.message, copy.param, copy.code) == (
        413,
        "too many pages",
        "image",
        "document_too_many_pages",
    )
