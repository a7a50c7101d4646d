"""The ``pages`` selection: ``"1-3,5"`` → pages 1, 2, 3 and 5, checked against the document.

Syntax is checked before anything is rendered (a typo is a 400 at once); the range is checked
once the page count is known. Pages are 1-based as printed in every PDF viewer; a range may be
open-ended (``"3-"`` is page 3 to the end); the result keeps the document's order and names
each page once, whatever order or overlap the selection has.

    >>> PageSelection.parse("5,1-3").resolve(10)
    [1, 2, 3, 5]
    >>> PageSelection.parse("8-").resolve(10)
    [8, 9, 10]
    >>> PageSelection.parse(None).resolve(3)
    [1, 2, 3]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ErrorCode
from .errors import DocumentError

__all__ = ["MAX_SELECTION_CHARS", "PageSelection"]

MAX_SELECTION_CHARS = 256
"""Longer selections are refused unread: no real request lists that many ranges."""

_PART = re.compile(r"^\s*([0-9]{1,6})\s*(?:(-)\s*([0-9]{1,6})?\s*)?$")


@dataclass(frozen=True)
class PageSelection:
    """Inclusive 1-based ranges; ``end`` None means to the last page. No ranges: every page."""

    ranges: tuple[tuple[int, int | None], ...] = ()
    param: str = "pages"

    @classmethod
    def parse(cls, text: str | None, *, param: str = "pages") -> PageSelection:
        """Parse ``"1-3,5"``; None or blank selects every page. 400 naming ``param`` if bad."""
        if text is None or not text.strip():
            return cls((), param)
        if len(text) > MAX_SELECTION_CHARS:
            raise _bad(f"is longer than {MAX_SELECTION_CHARS} characters", param)
        ranges: list[tuple[int, int | None]] = []
        for part in text.split(","):
            match = _PART.match(part)
            if match is None:
                raise _bad(f"has '{part.strip()}', not a page or range like 1-3", param)
            start = int(match.group(1))
            end: int | None = start
            if match.group(2):
                end = int(match.group(3)) if match.group(3) else None
            if start < 1:
                raise _bad("counts pages from 1", param)
            if end is not None and end < start:
                raise _bad(f"has the backward range {start}-{end}", param)
            ranges.append((start, end))
        return cls(tuple(ranges), param)

    def resolve(self, page_count: int) -> list[int]:
        """The selected page numbers in document order; 400 if one lies past ``page_count``."""
        if not self.ranges:
            return list(range(1, page_count + 1))
        chosen: set[int] = set()
        for start, end in self.ranges:
            last = page_count if end is None else end
            if start > page_count or last > page_count:
                shown = f"{start}-" if end is None else f"{start}-{end}"
                shown = str(start) if end == start else shown
                raise DocumentError(
                    400,
                    f"pages selects {shown} but the document has {page_count} page(s)",
                    param=self.param,
                    code=ErrorCode.DOCUMENT_PAGE_OUT_OF_RANGE,
                )
            chosen.update(range(start, last + 1))
        return sorted(chosen)


def _bad(why: str, param: str) -> DocumentError:
    return DocumentError(
        400,
        f"pages {why}; write a selection like '1-3,5'",
        param=param,
        code=ErrorCode.DOCUMENT_BAD_PAGE_SELECTION,
    )
