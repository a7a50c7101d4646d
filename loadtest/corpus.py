"""A synthetic image corpus: document pages, photos and wide banners, drawn with Pillow.

Why not download real images: the load test must run offline, in CI, and give the same bytes
for the same seed on every machine with this Pillow, so two runs differ only in what they
measure. What matters to the server is the image *geometry* (Phi-3.5-vision's crop grid, and
so the image-token count, follows size and aspect ratio) and realistic encoded sizes, not the
content. Each image is encoded to a data URL once, before any timing starts.

    corpus = build_corpus(seed=0, size=24)
    corpus[0].kind, corpus[0].mime           # ('document', 'image/png')
    corpus[0].data_url[:22]                  # 'data:image/png;base64,'
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

__all__ = ["KIND_CYCLE", "SIZES", "CorpusImage", "build_corpus", "render"]

SIZES: dict[str, tuple[tuple[int, int], ...]] = {
    # letter and A4 pages at 100-150 dpi, and a long narrow receipt
    "document": ((850, 1100), (1240, 1754), (612, 792), (400, 1200)),
    "photo": ((640, 480), (1024, 768), (1280, 720), (800, 800), (480, 640)),
    # web banner formats: billboard, leaderboard-ish, wide hero
    "banner": ((1200, 300), (1600, 400), (970, 250), (1456, 180)),
}
KIND_CYCLE = ("document", "photo", "banner", "photo", "document")
"""Two documents and two photos for each banner: extraction traffic is mostly those."""
_WORDS = (
    "total invoice date amount item qty price tax due order ship name address vision "
    "model serve gateway report account number reference paid balance unit"
).split()


@dataclass(frozen=True)
class CorpusImage:
    """One encoded image. ``data_url`` is built once; requests only copy it."""

    name: str
    kind: str
    width: int
    height: int
    mime: str
    data: bytes
    data_url: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def _text_line(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def _document(draw: ImageDraw.ImageDraw, rng: random.Random, w: int, h: int) -> None:
    """A page filled top to bottom with paragraphs and tables of numbers, like an invoice."""
    margin, line_h = w // 12, max(10, min(w // 30, h // 50))
    per_line = max(2, (w - 2 * margin) // (line_h * 4))
    draw.rectangle([0, 0, w, h], fill=(250, 250, 246))
    draw.text(
        (margin, margin), _text_line(rng, 2).upper(), fill=(10, 10, 10), font=_font(line_h * 2)
    )
    y = margin + line_h * 3
    while y < h - margin - line_h * 4:
        for _ in range(rng.randint(2, 5)):  # a paragraph
            draw.text(
                (margin, y),
                _text_line(rng, rng.randint(per_line // 2, per_line)),
                fill=(40, 40, 40),
                font=_font(line_h),
            )
            y += int(line_h * 1.4)
        y = _table(draw, rng, margin, y + line_h, w - margin, line_h)
        y += line_h


def _table(
    draw: ImageDraw.ImageDraw, rng: random.Random, x0: int, y: int, x1: int, line_h: int
) -> int:
    """A ruled table (a name column, then amounts); returns the y below its total."""
    rows, cols = rng.randint(2, 6), rng.randint(2, 4)
    col_w, row_h = (x1 - x0) // cols, int(line_h * 1.6)
    for r in range(rows + 1):
        draw.line([(x0, y + r * row_h), (x1, y + r * row_h)], fill=(90, 90, 90))
        if r == rows:
            break
        for c in range(cols):
            cell = _text_line(rng, 1) if c == 0 else f"{rng.uniform(1, 999):.2f}"
            draw.text(
                (x0 + c * col_w + 4, y + r * row_h + 2), cell, fill=(0, 0, 0), font=_font(line_h)
            )
    y += rows * row_h + line_h // 2
    draw.text(
        (x1 - col_w, y), f"TOTAL {rng.uniform(10, 9999):.2f}", fill=(0, 0, 0), font=_font(line_h)
    )
    return y + line_h * 2


def _photo(draw: ImageDraw.ImageDraw, rng: random.Random, w: int, h: int) -> None:
    horizon = int(h * rng.uniform(0.4, 0.7))
    sky, ground = rng.choice(
        [
            ((90, 150, 230), (70, 140, 60)),
            ((250, 170, 90), (120, 100, 70)),
            ((40, 40, 90), (30, 60, 40)),
        ]
    )
    for y in range(h):  # vertical gradients; row lines keep it fast and seed-exact
        top = y < horizon
        base = sky if top else ground
        f = y / max(1, horizon) if top else (y - horizon) / max(1, h - horizon)
        draw.line([(0, y), (w, y)], fill=tuple(int(c * (0.7 + 0.3 * f)) for c in base))
    r = max(6, min(w, h) // 12)
    sx, sy = rng.randint(r, w - r), rng.randint(r, max(r + 1, horizon - r))
    draw.ellipse([sx - r, sy - r, sx + r, sy + r], fill=(255, 235, 150))
    for _ in range(rng.randint(2, 6)):  # buildings and trees
        bw, bh = rng.randint(w // 16, w // 6), rng.randint(h // 10, h // 3)
        bx = rng.randint(0, w - bw)
        color = tuple(rng.randint(60, 200) for _ in range(3))
        draw.rectangle([bx, horizon - bh, bx + bw, horizon], fill=color)
    for _ in range(rng.randint(0, 6)):  # stick people, for the people_count schema
        px, size = rng.randint(10, w - 10), max(8, h // 12)
        py = rng.randint(horizon, h - size)
        draw.ellipse([px - size // 6, py, px + size // 6, py + size // 3], fill=(230, 200, 170))
        draw.line([(px, py + size // 3), (px, py + size)], fill=(20, 20, 20), width=3)


def _banner(draw: ImageDraw.ImageDraw, rng: random.Random, w: int, h: int) -> None:
    bg = tuple(rng.randint(0, 255) for _ in range(3))
    draw.rectangle([0, 0, w, h], fill=bg)
    fg = tuple(255 - c for c in bg)
    r = h // 3
    draw.ellipse([h // 6, h // 2 - r, h // 6 + 2 * r, h // 2 + r], fill=fg)  # a logo
    draw.text((h, h // 4), _text_line(rng, 3).title(), fill=fg, font=_font(h // 4))
    bx = w - w // 5
    draw.rounded_rectangle([bx, h // 3, w - h // 6, 2 * h // 3], radius=h // 10, fill=fg)
    draw.text((bx + h // 10, h // 3 + h // 20), "BUY NOW", fill=bg, font=_font(h // 8))


_DRAW = {"document": _document, "photo": _photo, "banner": _banner}
_FORMAT = {
    "document": ("PNG", "image/png"),
    "photo": ("JPEG", "image/jpeg"),
    "banner": ("PNG", "image/png"),
}


def render(kind: str, width: int, height: int, seed: int) -> Image.Image:
    """Draw one image of ``kind``; the same arguments give the same pixels."""
    img = Image.new("RGB", (width, height))
    _DRAW[kind](ImageDraw.Draw(img), random.Random(f"{kind}:{seed}"), width, height)
    return img


def build_corpus(seed: int = 0, size: int = 24, scale: float = 1.0) -> list[CorpusImage]:
    """``size`` images cycling through `KIND_CYCLE`, geometry and content from ``seed``.

    ``scale`` shrinks (or grows) every image, for CPU smoke runs where a 1240×1754 page
    would take seconds to encode on the server; the aspect ratios stay.
    """
    if size < 1:
        raise ValueError("corpus size must be at least 1")
    rng = random.Random(seed)
    images: list[CorpusImage] = []
    for i in range(size):
        kind = KIND_CYCLE[i % len(KIND_CYCLE)]
        w, h = rng.choice(SIZES[kind])
        w, h = max(32, round(w * scale)), max(32, round(h * scale))
        img = render(kind, w, h, rng.randrange(2**31))
        fmt, mime = _FORMAT[kind]
        buf = io.BytesIO()
        img.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {"optimize": False}))
        data = buf.getvalue()
        url = f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
        images.append(CorpusImage(f"{kind}-{i:02d}", kind, w, h, mime, data, url))
    return images
