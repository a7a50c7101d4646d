"""The OCR workers' reader: a PDF page rendered again at 200 dpi, a TIFF's frame, an image
as sent (upright by EXIF), anything over the pixel cap scaled down."""

from __future__ import annotations

import io

from PIL import Image

from gateway.evidence.pages import MAX_OCR_PIXELS, page_image, read_page
from tests.support.pages import PAGE_PT, invoice_page, text_pdf
from tests.support.pages import page_image as draw


def test_a_pdf_page_renders_at_200_dpi() -> None:
    image = page_image(text_pdf([invoice_page(), invoice_page()]), 2)
    assert image.size == (round(PAGE_PT[0] * 200 / 72), round(PAGE_PT[1] * 200 / 72))


def test_a_tiff_gives_the_frame_of_its_page() -> None:
    frames = [Image.new("RGB", (40 + i, 30), "white") for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:])
    assert page_image(out.getvalue(), 3).size == (42, 30)


def test_an_image_is_turned_upright_and_a_large_one_scaled_down() -> None:
    image = Image.new("RGB", (60, 20), "white")
    exif = image.getexif()
    exif[0x0112] = 6  # rotated 90 degrees: displayed 20 x 60
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    assert page_image(out.getvalue(), 1).size == (20, 60)
    big = io.BytesIO()
    Image.new("L", (4000, 3000), 255).save(big, format="PNG")
    scaled = page_image(big.getvalue(), 1)
    assert (
        scaled.width * scaled.height <= MAX_OCR_PIXELS
        and abs(scaled.width / scaled.height - 4 / 3) < 0.01
    )


def test_read_page_reads_a_scanned_pdf_page_by_ocr() -> None:
    out = io.BytesIO()
    draw(invoice_page(), dpi=150).save(out, format="PDF", resolution=150.0)  # no text layer
    words = read_page(out.getvalue(), 1)
    assert words.source == "ocr" and words.page == 1
    assert "INV-2026-0042" in {w.text for w in words.words}
