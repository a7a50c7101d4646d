"""Rendering in-process: target sizes, page selection, and every refusal with its code."""

from __future__ import annotations

import io
import time
from dataclasses import replace

import pytest
from PIL import Image

from gateway.documents import (
    DocumentError,
    DocumentLimits,
    PageSelection,
    RenderJob,
    render_document,
)
from gateway.documents.detect import DocumentKind
from gateway.documents.render import NATURAL_DPI, TargetSize
from tests.support.documents import (
    encrypted_pdf,
    invoice_pages,
    no_pages_pdf,
    pdf_bytes,
    photo_page,
    scaled_target,
    text_page,
    tiff_bytes,
)


def job(
    data: bytes,
    kind: DocumentKind = "pdf",
    pages: str | None = None,
    *,
    num_crops: int = 4,
    target: TargetSize = scaled_target,
    **limits: float,
) -> RenderJob:
    return RenderJob(
        data, kind, PageSelection.parse(pages), num_crops, target,
        DocumentLimits(**limits), "image",  # type: ignore[arg-type]
    )  # fmt: skip


def refusal(render_job: RenderJob, param: str = "image") -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        render_document(render_job)
    assert caught.value.param == param
    return caught.value


def test_pdf_pages_render_at_the_target_size_as_png() -> None:
    doc = render_document(job(pdf_bytes(invoice_pages(3)), num_crops=16))
    assert doc.kind == "pdf" and doc.page_count == 3
    assert [p.number for p in doc.pages] == [1, 2, 3]
    for page in doc.pages:
        image = Image.open(io.BytesIO(page.data))
        assert image.format == "PNG" and page.mime == "image/png"
        assert image.size == (page.width, page.height) == scaled_target(1240, 1754, 16)


def test_the_target_sees_the_page_at_300_dpi_and_the_crop_count() -> None:
    seen: list[tuple[int, int, int]] = []

    def recording(width: int, height: int, num_crops: int) -> tuple[int, int]:
        seen.append((width, height, num_crops))
        return 100, 141

    # Pillow writes a 1240x1754 image at 150 dpi as an A4 page of 595.2 x 841.9 points.
    render_document(job(pdf_bytes([text_page(1)]), num_crops=16, target=recording))
    assert seen == [(1240 * NATURAL_DPI // 150, 1754 * NATURAL_DPI // 150, 16)]


def test_an_a4_page_is_rendered_no_larger_than_its_target() -> None:
    """A 16-crop A4 page is not rendered at 300 dpi: 7x fewer pixels for the same answer."""
    doc = render_document(job(pdf_bytes([text_page(1)]), target=lambda w, h, n: (949, 1344)))
    assert (doc.pages[0].width, doc.pages[0].height) == (949, 1344)


def test_page_selection_renders_only_the_chosen_pages() -> None:
    doc = render_document(job(pdf_bytes(invoice_pages(5)), pages="2,4-"))
    assert doc.page_count == 5
    assert [p.number for p in doc.pages] == [2, 4, 5]


def test_a_selection_past_the_last_page_is_refused() -> None:
    error = refusal(job(pdf_bytes(invoice_pages(2)), pages="1-3"), param="pages")
    assert (error.status, error.code) == (400, "document_page_out_of_range")


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (encrypted_pdf(), "document_encrypted", "encrypted"),
        (no_pages_pdf(), "document_no_pages", "no pages"),
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage\n%%EOF\n", "document_corrupt", "corrupt"),
    ],
)
def test_unreadable_pdfs_are_400s_naming_the_problem(data: bytes, code: str, words: str) -> None:
    error = refusal(job(data))
    assert (error.status, error.code) == (400, code)
    assert words in error.message


def test_no_pages_is_reported_even_after_an_encrypted_file() -> None:
    """PDFium's last-error code goes stale; the verdict must not."""
    refusal(job(encrypted_pdf()))
    assert refusal(job(no_pages_pdf())).code == "document_no_pages"


def test_a_truncated_pdf_is_refused_rather_than_silently_short() -> None:
    whole = pdf_bytes(invoice_pages(3))
    error = refusal(job(whole[: len(whole) * 2 // 3]))
    assert (error.status, error.code) == (400, "document_truncated")


def test_too_many_pages_names_the_setting_and_suggests_a_selection() -> None:
    error = refusal(job(pdf_bytes(invoice_pages(4)), max_pages=3))
    assert (error.status, error.code) == (413, "document_too_many_pages")
    assert "GATEWAY_DOCUMENT_MAX_PAGES" in error.message and "'1-3'" in error.message
    chosen = render_document(job(pdf_bytes(invoice_pages(4)), pages="2-4", max_pages=3))
    assert len(chosen.pages) == 3


def test_too_many_bytes_names_the_setting() -> None:
    data = pdf_bytes(invoice_pages(1))
    error = refusal(job(data, max_bytes=len(data) - 1))
    assert (error.status, error.code) == (413, "document_too_large")
    assert "GATEWAY_DOCUMENT_MAX_BYTES" in error.message


def test_too_many_rendered_pixels_names_the_setting() -> None:
    error = refusal(job(pdf_bytes(invoice_pages(1)), max_page_pixels=100_000))
    assert (error.status, error.code) == (413, "document_page_too_many_pixels")
    assert "page 1 is 336x475" in error.message
    assert "GATEWAY_DOCUMENT_MAX_PAGE_PIXELS" in error.message


def test_a_slow_document_is_refused_between_pages() -> None:
    def slow(width: int, height: int, num_crops: int) -> tuple[int, int]:
        time.sleep(0.3)
        return scaled_target(width, height, num_crops)

    error = refusal(job(pdf_bytes(invoice_pages(3)), target=slow, render_timeout_s=0.2))
    assert (error.status, error.code) == (413, "document_render_timeout")
    assert "GATEWAY_DOCUMENT_RENDER_TIMEOUT_S" in error.message


def test_tiff_frames_become_pages_shrunk_to_the_target() -> None:
    data = tiff_bytes([text_page(1), photo_page(2), text_page(3).convert("1")])
    doc = render_document(job(data, "tiff", num_crops=4))
    assert doc.page_count == 3 and [p.number for p in doc.pages] == [1, 2, 3]
    for page in doc.pages:
        assert (page.width, page.height) == scaled_target(1240, 1754, 4)
    modes = [Image.open(io.BytesIO(p.data)).mode for p in doc.pages]
    assert modes == ["RGB", "RGB", "L"]  # a bilevel fax page stays grey, 3x fewer bytes


def test_small_tiff_frames_are_not_enlarged() -> None:
    doc = render_document(job(tiff_bytes([text_page(1, (300, 400))]), "tiff", num_crops=16))
    assert (doc.pages[0].width, doc.pages[0].height) == (300, 400)


def test_tiff_selection_and_caps_apply_as_for_pdf() -> None:
    data = tiff_bytes(invoice_pages(4))
    assert [p.number for p in render_document(job(data, "tiff", "3-")).pages] == [3, 4]
    assert refusal(job(data, "tiff", "5"), "pages").code == "document_page_out_of_range"
    assert refusal(job(data, "tiff", max_pages=2)).code == "document_too_many_pages"
    error = refusal(job(data, "tiff", max_page_pixels=1_000_000))
    assert (error.status, error.code) == (413, "document_page_too_many_pixels")


def test_corrupt_or_truncated_tiffs_are_400s() -> None:
    whole = tiff_bytes(invoice_pages(2))
    for data in (whole[: len(whole) // 2], whole[:8] + b"\xff" * 64):
        error = refusal(job(data, "tiff"))
        assert (error.status, error.code) == (400, "document_corrupt")


def _colour_pages() -> list[Image.Image]:
    """Pages told apart by colour, in a portrait and a landscape shape."""
    return [Image.new("RGB", (600, 800), "red"), Image.new("RGB", (900, 600), "blue")]


def _thumbnail(
    data: bytes, pages: str | None = None, *, side: int = 128, **limits: float
) -> RenderJob:
    return RenderJob(
        data, "pdf", PageSelection.parse(pages), 4, scaled_target,
        DocumentLimits(**limits), "image", thumbnail=side,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["pdf", "tiff"])
def test_previews_are_jpeg_thumbnails_of_the_right_page_in_its_shape(kind: DocumentKind) -> None:
    data = pdf_bytes(_colour_pages()) if kind == "pdf" else tiff_bytes(_colour_pages())
    preview = replace(_thumbnail(data, side=128), kind=kind)
    doc = render_document(preview)
    assert doc.page_count == 2
    portrait, landscape = doc.pages
    assert (portrait.width, portrait.height) == (96, 128)
    assert (landscape.width, landscape.height) == (128, 85)
    for page, colour in ((portrait, (255, 0, 0)), (landscape, (0, 0, 255))):
        image = Image.open(io.BytesIO(page.data))
        assert image.format == "JPEG" and page.mime == "image/jpeg"
        assert image.size == (page.width, page.height)
        centre = image.convert("RGB").getpixel((page.width // 2, page.height // 2))
        assert all(abs(a - b) < 24 for a, b in zip(centre, colour, strict=True)), centre


def test_a_preview_never_enlarges_a_small_page() -> None:
    small = tiff_bytes([Image.new("RGB", (60, 40), "green")])
    doc = render_document(replace(_thumbnail(small, side=512), kind="tiff"))
    assert (doc.pages[0].width, doc.pages[0].height) == (60, 40)


def test_a_preview_shows_the_first_pages_of_a_long_document_unless_pages_are_chosen() -> None:
    data = pdf_bytes(invoice_pages(5))
    doc = render_document(_thumbnail(data, side=64, max_pages=3))
    assert doc.page_count == 5 and [p.number for p in doc.pages] == [1, 2, 3]
    # An explicit selection still obeys the cap, as extraction does.
    error = refusal(_thumbnail(data, "1-4", side=64, max_pages=3))
    assert (error.status, error.code) == (413, "document_too_many_pages")
    # And extraction itself still refuses the long document outright.
    error = refusal(job(data, max_pages=3))
    assert error.code == "document_too_many_pages"
