"""Deterministic test images as PIL objects, bytes and data URLs."""

from __future__ import annotations

import base64
import io

from PIL import Image, ImageDraw

__all__ = ["data_url", "image_bytes", "make_image"]


def make_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """A picture with some structure (bands and a box), different for each seed."""
    img = Image.new("RGB", (width, height), ((seed * 53) % 256, (seed * 97) % 256, 180))
    draw = ImageDraw.Draw(img)
    for x in range(0, width, max(1, width // 8)):
        draw.line([(x, 0), (x, height)], fill=(255, (x + seed) % 256, 0), width=3)
    draw.rectangle([width // 4, height // 4, width // 2, height // 2], fill=(20, 20, 20))
    return img


def image_bytes(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def data_url(img: Image.Image, fmt: str = "PNG") -> str:
    mime = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}.get(fmt, "image/png")
    return f"data:{mime};base64," + base64.b64encode(image_bytes(img, fmt)).decode()
