"""The words of a page and where they are: the one shape both sources produce.

A box is ``(x0, y0, x1, y1)`` as fractions of the page's width and height *as displayed*
(after a PDF's ``/Rotate`` and crop box, after an image's EXIF orientation), origin top-left,
so it holds for any rendering of the page. ``line`` numbers the page's visual lines top to
bottom: words whose boxes share most of their height are on one line, whatever the source
said (a table row read as four OCR boxes is still one line, which is what lets a value prefer
the occurrence on its row's line).

    words = [Word("Total", (0.60, 0.42, 0.66, 0.44), line=0, conf=0.98)]
    page = PageWords(page=1, words=tuple(words), source="ocr", engine="rapidocr 3.10.0")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

__all__ = ["Box", "PageWords", "Source", "Word", "assign_lines", "clamp_box"]

Box = tuple[float, float, float, float]
Source = Literal["pdf_text", "ocr"]


@dataclass(frozen=True, slots=True)
class Word:
    """One word: its text, its box (fractions, top-left origin), its line, and the reader's
    confidence in it (0-1; ``None`` for a text layer, which is exact)."""

    text: str
    box: Box
    line: int
    conf: float | None = None


@dataclass(frozen=True, slots=True)
class PageWords:
    """The words of one page. ``page`` is the document's own page number (1-based, also
    under a ``pages`` selection); ``engine`` names the OCR engine and its version."""

    page: int
    words: tuple[Word, ...]
    source: Source
    engine: str | None = None

    @property
    def mean_conf(self) -> float | None:
        """The reader's mean confidence over the page's words (``None`` for a text layer or
        an empty page): how well the page was read, for a caller deciding whether an absent
        value is absent or just unread."""
        confs = [w.conf for w in self.words if w.conf is not None]
        return sum(confs) / len(confs) if confs else None

    def to_json(self) -> dict[str, Any]:
        """The page as JSON, for a reading kept between units of work (an async job's
        ranges are merged after their pages were dropped)."""
        return {
            "page": self.page,
            "source": self.source,
            "engine": self.engine,
            "words": [[w.text, list(w.box), w.line, w.conf] for w in self.words],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PageWords:
        """The inverse of `to_json`."""
        words = tuple(
            Word(str(text), cast(Box, tuple(box)), int(line), conf)
            for text, box, line, conf in data["words"]
        )
        return cls(int(data["page"]), words, data["source"], data.get("engine"))


def clamp_box(x0: float, y0: float, x1: float, y1: float) -> Box:
    """The box ordered and clipped to the page (0-1), rounded to 5 decimals (a tenth of a
    pixel on a 10,000 px page: enough, and stable in JSON)."""
    lo_x, hi_x = sorted((min(max(x0, 0.0), 1.0), min(max(x1, 0.0), 1.0)))
    lo_y, hi_y = sorted((min(max(y0, 0.0), 1.0), min(max(y1, 0.0), 1.0)))
    return (round(lo_x, 5), round(lo_y, 5), round(hi_x, 5), round(hi_y, 5))


def assign_lines(
    items: Sequence[tuple[str, Box, float | None]], slope: float = 0.0
) -> tuple[Word, ...]:
    """Words in reading order (top to bottom, then left to right) with visual line numbers.

    A word joins the current line when its vertical centre lies within the line's band (the
    union of its words' heights); otherwise it starts the next line. ``slope`` is the page's
    skew (dy/dx in page fractions, positive when lines fall to the right): positions are
    taken along it, so that the rows of a page scanned 3 degrees askew stay whole."""

    def level(box: Box) -> tuple[float, float, float]:
        shift = slope * (box[0] + box[2]) / 2
        return (box[1] + box[3]) / 2 - shift, box[1] - shift, box[3] - shift

    order = sorted(items, key=lambda item: level(item[1])[0])
    lines: list[list[tuple[str, Box, float | None]]] = []
    top = bottom = 0.0
    for item in order:
        centre, low, high = level(item[1])
        if lines and top <= centre <= bottom:
            lines[-1].append(item)
            top, bottom = min(top, low), max(bottom, high)
        else:
            lines.append([item])
            top, bottom = low, high
    return tuple(
        Word(text, box, number, conf)
        for number, line in enumerate(lines)
        for text, box, conf in sorted(line, key=lambda item: item[1][0])
    )
