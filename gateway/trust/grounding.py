"""Grounding: where on the page each transcribed value of an answer was found, independently
of the model, so that a value printed nowhere can be caught.

`ground` takes the answer (``data``), the schema's *transcribed* pointers (JSON Pointers with
``*`` for list items: ``/line_items/*/amount``) and the words of each page
(`gateway.evidence.PageWords`), and returns, for every non-null transcribed leaf, where its
value is printed, or ``None``:

    {"/invoice_number": {"page": 1, "boxes": [[0.27, 0.17, 0.40, 0.18]],
                         "text": "INV-2026-0042", "source": "pdf_text", "score": 1.0},
     "/po_number": None}

**Matching.** Both sides are normalised (Unicode NFKC, case, whitespace, dashes, the
punctuation around a word) and the value is compared with every run of consecutive words on
the page (runs may cross lines: an address has one box per word). A value is written in every
form a page may print it:

- numbers: compared as numbers after reading the page's ``1.253,70``, ``1,253.70``,
  ``1 253,70``, ``1253.7`` (the last separator followed by other than three digits is the
  decimal one; one followed by exactly three digits may be either, and both are tried), with
  currency symbols and codes dropped; OCR noise (``1.253,7O``) falls back to fuzzy similarity
  against the usual spellings;
- dates (``YYYY-MM-DD`` in ``data``): ``12.08.1974``, ``12/08/1974``, ``1974-08-12``,
  ``12 AUG 1974``, ``12 August 1974``, ``August 12, 1974``, ``08/12/1974``, and ``740812``
  inside a machine-readable zone;
- text: as written, a currency code also as its symbol; inside an MRZ line (a long run of
  capitals, digits and ``<``), identifiers and names are also found as substrings, spaces
  written ``<``.

The score is rapidfuzz's ``ratio`` ÷ 100 of the best spelling (1.0 for an exact or numeric
match); a best score under ``min_score`` is ``None``. Fuzzy matching forgives OCR noise but
never a different digit: an edit that drops, adds or changes a digit (other than into a
look-alike letter, ``0``/``O``, ``1``/``l``) rules the occurrence out, since a changed digit
is exactly what an invented amount, date or number looks like.

Among equally good occurrences (within ``TIE``), a cell of a list of objects prefers the one
on the same line as its row's other cells, then words no earlier cell of its row took (an
amount equal to its unit price), then the one read first (earliest page, top to bottom): a
tie-breaker, never a failure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal, TypedDict

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from ..evidence.words import PageWords, Word
from .confidence import json_pointer
from .spellings import (
    CONFUSABLE,
    CURRENCIES,
    EDGE,
    ISO_DATE,
    MRZ_LINE,
    NUMBER,
    amount_values,
    date_spellings,
    normalise,
    number_spellings,
    strip_currency,
)

__all__ = [
    "MIN_SCORE",
    "TIE",
    "Grounding",
    "ground",
    "transcribed_leaves",
]

MIN_SCORE = 0.8
"""The default least similarity that counts as found (to be set by measurement, issue 21)."""
TIE = 0.02
"""Scores this close are equally good; the row and reading order decide between them."""
MAX_WINDOW = 12
"""The most words one value may span."""
MIN_MRZ_SUBSTRING = 4
"""A value is looked for inside an MRZ line only from this many characters (``F`` is not)."""


class Grounding(TypedDict):
    """Where a value was found: the document's page, one box per word (fractions of the page
    as displayed, top-left origin), the words as printed, their source and the similarity."""

    page: int
    boxes: list[list[float]]
    text: str
    source: Literal["pdf_text", "ocr"]
    score: float


# --- normalisation ----------------------------------------------------------------------------


def _split(pattern: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pattern.split("/")[1:]]


def transcribed_leaves(data: Any, patterns: Sequence[str]) -> Iterator[tuple[str, Any]]:
    """``(pointer, value)`` for every non-null, non-empty scalar leaf of ``data`` that one of
    ``patterns`` names (``*`` matches any list index), in document order."""
    compiled = [_split(p) for p in patterns]

    def walk(node: Any, path: list[str | int]) -> Iterator[tuple[str, Any]]:
        if isinstance(node, Mapping):
            for key, child in node.items():
                yield from walk(child, [*path, key])
        elif isinstance(node, list):
            for index, child in enumerate(node):
                yield from walk(child, [*path, index])
        elif node is not None and node != "" and not isinstance(node, bool):
            if any(_matches(parts, path) for parts in compiled):
                yield json_pointer(path), node

    yield from walk(data, [])


def _matches(pattern: list[str], path: list[str | int]) -> bool:
    return len(pattern) == len(path) and all(
        p == str(q) or (p == "*" and isinstance(q, int)) for p, q in zip(pattern, path, strict=True)
    )


# --- matching ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    score: float
    page: int  # index into pages
    words: tuple[Word, ...]
    text: str
    boxes: tuple[tuple[float, float, float, float], ...]
    mrz: bool = False

    @property
    def line(self) -> tuple[int, int]:
        return self.page, self.words[0].line

    @property
    def order(self) -> tuple[int, int, float, bool]:
        first = self.words[0]
        return self.page, first.line, first.box[0], self.mrz


@dataclass(frozen=True)
class _Value:
    spellings: tuple[str, ...]
    number: Decimal | None
    mrz: tuple[str, ...]


def _describe(value: Any) -> _Value:
    """The spellings to look for, the number to compare, the MRZ forms."""
    if isinstance(value, int | float):
        number = Decimal(str(value))
        return _Value(tuple(number_spellings(number)), number, ())
    text = normalise(str(value))
    if match := ISO_DATE.match(str(value).strip()):
        try:
            day = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            day = None
        if day is not None:
            spellings = date_spellings(day)
            yymmdd = f"{day.year % 100:02d}{day.month:02d}{day.day:02d}"
            return _Value(tuple(spellings), None, (yymmdd,))
    numbers = amount_values(text) if any(c.isdigit() for c in text) else set()
    if len(numbers) == 1 and NUMBER.match(strip_currency(text).replace(" ", "") or "x"):
        number = numbers.pop()
        spellings = [text, *number_spellings(number)]
        return _Value(tuple(dict.fromkeys(spellings)), number, ())
    spellings = [text]
    for symbol, code in CURRENCIES.items():
        if text == code:
            spellings.append(symbol)
    compact = text.upper().replace(" ", "<").replace("-", "")
    mrz = (compact,) if len(compact) >= MIN_MRZ_SUBSTRING else ()
    return _Value(tuple(spellings), None, mrz)


class _PageIndex:
    """Runs of consecutive words of one page, normalised once, by length."""

    def __init__(self, page: PageWords) -> None:
        self.words = page.words
        self.norm = [normalise(w.text) for w in page.words]
        self._runs: dict[int, tuple[list[str], list[int]]] = {}

    def runs(self, length: int) -> tuple[list[str], list[int]]:
        """(texts, start indices) of every run of ``length`` words whose edge words are not
        empty after normalisation."""
        if length not in self._runs:
            texts, starts = [], []
            for start in range(len(self.words) - length + 1):
                if self.norm[start] and self.norm[start + length - 1]:
                    texts.append(" ".join(n for n in self.norm[start : start + length] if n))
                    starts.append(start)
            self._runs[length] = (texts, starts)
        return self._runs[length]


def _run_candidate(
    index: _PageIndex, page: int, start: int, length: int, score: float
) -> _Candidate:
    words = index.words[start : start + length]
    return _Candidate(
        round(score, 4), page, words, " ".join(w.text for w in words), tuple(w.box for w in words)
    )


def _candidates(value: _Value, indexes: Sequence[_PageIndex], min_score: float) -> list[_Candidate]:
    found: list[_Candidate] = []
    cutoff = 100 * min_score
    for page, index in enumerate(indexes):
        widths = {len(s.split()) for s in value.spellings}
        lengths = sorted({n + d for n in widths for d in (-1, 0, 1) if 1 <= n + d <= MAX_WINDOW})
        if value.number is not None:
            lengths = [1, 2, 3]  # an amount printed in groups: 1 253,70
        for length in lengths:
            texts, starts = index.runs(length)
            if not texts:
                continue
            if value.number is not None:
                for text, start in zip(texts, starts, strict=True):
                    if any(c.isdigit() for c in text.split()[0]) and any(
                        c.isdigit() for c in text.split()[-1]
                    ):
                        if value.number in amount_values(text):
                            found.append(_run_candidate(index, page, start, length, 1.0))
            for spelling in value.spellings:
                for text, score, position in process.extract(
                    spelling, texts, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None
                ):
                    if score == 100 or _digits_kept(spelling, text):
                        found.append(
                            _run_candidate(index, page, starts[position], length, score / 100)
                        )
        for word in index.words:
            found.extend(_mrz_candidates(value, page, word))
    return found


def _digits_kept(value: str, printed: str) -> bool:
    """Whether ``printed`` differs from ``value`` only in ways OCR noise explains: no digit
    dropped, added or changed into another digit (``2.253,70`` is not ``1.253,70``, and
    ``21.08.2026`` is not ``12.08.2026``), though a digit and its look-alike letter may stand
    for each other (``1.253,7o``, ``1nv-2026``)."""
    for op in Levenshtein.editops(value, printed):
        if op.tag == "delete" and value[op.src_pos].isdigit():
            return False
        if op.tag == "insert" and printed[op.dest_pos].isdigit():
            return False
        if op.tag == "replace":
            want, got = value[op.src_pos], printed[op.dest_pos]
            look_alike = CONFUSABLE.get(got) == want or CONFUSABLE.get(want) == got
            if (want.isdigit() or got.isdigit()) and not look_alike:
                return False
    return True


def _mrz_candidates(value: _Value, page: int, word: Word) -> Iterator[_Candidate]:
    """Exact occurrences of the value's MRZ forms inside an MRZ-like word, boxed by their
    share of the word's width (MRZ type is monospaced)."""
    text = word.text.strip(EDGE)  # OCR can read a speck before the line: ".898902C36..."
    if not value.mrz or not MRZ_LINE.match(text):
        return
    for form in value.mrz:
        for match in re.finditer(re.escape(form), text):
            x0, y0, x1, y1 = word.box
            step = (x1 - x0) / len(word.text)
            offset = word.text.index(text) + match.start()
            box = (round(x0 + step * offset, 5), y0, round(x0 + step * (offset + len(form)), 5), y1)
            yield _Candidate(1.0, page, (word,), form, (box,), mrz=True)


def _row_of(pointer: str) -> str | None:
    """The pointer of the list item holding ``pointer``'s cell (``/line_items/2``), if any."""
    parts = pointer.split("/")
    for cut in range(len(parts) - 1, 1, -1):
        if parts[cut - 1].isdigit():
            return "/".join(parts[:cut])
    return None


def ground(
    data: Mapping[str, Any],
    transcribed: Sequence[str],
    pages: Sequence[PageWords],
    min_score: float = MIN_SCORE,
) -> dict[str, Grounding | None]:
    """Where each non-null transcribed leaf of ``data`` is printed on ``pages``, or ``None``.

    A pure function: the same answer and the same words give the same map."""
    indexes = [_PageIndex(p) for p in pages]
    leaves = list(transcribed_leaves(data, transcribed))
    options: dict[str, list[_Candidate]] = {}
    for pointer, value in leaves:
        found = _candidates(_describe(value), indexes, min_score)
        if found:
            best = max(c.score for c in found)
            options[pointer] = sorted(
                (c for c in found if c.score >= best - TIE), key=lambda c: c.order
            )
    rows: dict[str, list[str]] = {}
    for pointer, _ in leaves:
        if (row := _row_of(pointer)) is not None:
            rows.setdefault(row, []).append(pointer)
    out: dict[str, Grounding | None] = {}
    claimed: dict[str, set[tuple[int, Word]]] = {}
    for pointer, _ in leaves:
        choices = options.get(pointer)
        if not choices:
            out[pointer] = None
            continue
        chosen = choices[0]
        row = _row_of(pointer)
        if row is not None and len(choices) > 1:
            # on its row's line first; then not words a cell before it on the row took (an
            # amount equal to its unit price is the second of the two on the line)
            siblings = [options.get(p, []) for p in rows[row] if p != pointer]
            votes = [sum(any(c.line == s.line for s in sib) for sib in siblings) for c in choices]
            taken = claimed.get(row, set())
            free = [(c.page, c.words[0]) not in taken for c in choices]
            chosen = choices[max(range(len(choices)), key=lambda i: (votes[i], free[i], -i))]
        if row is not None:
            claimed.setdefault(row, set()).add((chosen.page, chosen.words[0]))
        page = pages[chosen.page]
        out[pointer] = Grounding(
            page=page.page,
            boxes=[list(b) for b in chosen.boxes],
            text=chosen.text,
            source=page.source,
            score=chosen.score,
        )
    return out
