"""Test documents made on the spot: PDFs and TIFFs written by Pillow, and hand-built PDFs for
the refusals Pillow cannot write (encrypted, no pages). Also render targets that the render
worker process imports by name (a hanging one, a crashing one) for the pool's fault tests."""

from __future__ import annotations

import io
import os
import random
import time

from PIL import Image, ImageDraw

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

A4_AT_150_DPI = (1240, 1754)


def text_page(number: int, size: tuple[int, int] = A4_AT_150_DPI) -> Image.Image:
    """A dense page of text: an invoice page with a header, numbered lines and a total."""
    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    width, height = size
    draw.text((width // 12, height // 20), f"ACME TOOLS GMBH  -  INVOICE INV-42  -  PAGE {number}",
              fill="black")  # fmt: skip
    for row, y in enumerate(range(height // 8, height - height // 8, max(12, height // 90))):
        line = f"{number}.{row:02d}  Cordless drill model {row * 7 % 97:02d}   2 x 89.50   179.00"
        draw.text((width // 12, y), line, fill="black")
    draw.text((width // 12, height - height // 10), f"TOTAL EUR {number * 238:.2f}", fill="black")
    return page


def photo_page(seed: int, size: tuple[int, int] = A4_AT_150_DPI) -> Image.Image:
    """A photo-heavy page: smooth colour fields with noise, which compress like a photograph."""
    rng = random.Random(seed)
    small = Image.new("RGB", (size[0] // 16, size[1] // 16))
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256))
                   for _ in range(small.width * small.height)])  # fmt: skip
    page = small.resize(size, Image.Resampling.BICUBIC)
    noise = Image.effect_noise(size, 40).convert("RGB")
    return Image.blend(page, noise, 0.25)


def invoice_pages(count: int) -> list[Image.Image]:
    return [text_page(n + 1) for n in range(count)]


def pdf_bytes(pages: list[Image.Image], dpi: float = 150.0) -> bytes:
    """A multi-page PDF (one image per page) as Pillow writes it."""
    out = io.BytesIO()
    pages[0].save(out, format="PDF", save_all=True, append_images=pages[1:], resolution=dpi)
    return out.getvalue()


def tiff_bytes(pages: list[Image.Image], compression: str = "tiff_deflate") -> bytes:
    """A multi-page TIFF as Pillow writes it."""
    out = io.BytesIO()
    pages[0].save(out, format="TIFF", save_all=True, append_images=pages[1:],
                  compression=compression)  # fmt: skip
    return out.getvalue()


def _assemble(objects: list[bytes], trailer: bytes) -> bytes:
    """A PDF file from numbered object bodies (1-based), with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R " % (len(objects) + 1) + trailer + b" >>\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def no_pages_pdf() -> bytes:
    """A well-formed PDF whose page tree is empty."""
    return _assemble([b"<< /Type /Catalog /Pages 2 0 R >>",
                      b"<< /Type /Pages /Kids [] /Count 0 >>"], b"")  # fmt: skip


def encrypted_pdf() -> bytes:
    """A one-page PDF behind the standard security handler with a user password (unknown to
    anyone: the password check fails for the empty password, as for a real protected file)."""
    key = bytes(range(32)).hex().encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <" + key + b"> /U <" + key + b"> /P -4 >>",
    ]
    ident = b"<" + bytes(16).hex().encode() + b">"
    return _assemble(objects, b"/Encrypt 4 0 R /ID [" + ident + b" " + ident + b"]")


def scaled_target(width: int, height: int, num_crops: int) -> tuple[int, int]:
    """A stand-in geometry: ``num_crops × 84`` pixels wide, the aspect ratio kept."""
    target_width = num_crops * 84
    return target_width, max(1, round(height * target_width / width))


def hanging_target(width: int, height: int, num_crops: int) -> tuple[int, int]:
    """Stands for a page that keeps the renderer busy forever."""
    time.sleep(3600)
    return width, height


def crashing_target(width: int, height: int, num_crops: int) -> tuple[int, int]:
    """Stands for a page that crashes the renderer (as a PDFium segfault would)."""
    os._exit(70)
