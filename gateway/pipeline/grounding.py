"""Grounding in the pipeline: where on its page each transcribed value of a result was found.

Three pieces, each called from a few places of `single`, `document` and `run`:

* `Evidence`: the words of the pages of one input, each page read at most once and shared by
  every schema of the request. A PDF page with a text layer gives its words from PDFium
  (cheap, in a thread); an image or a scanned page is read by OCR in the app's `OcrPool`
  (``Context.ocr_pool``), at its own resolution (an image as received, a PDF page rendered
  again at 200 dpi by the OCR worker, `gateway.evidence.pages`), with
  ``GATEWAY_OCR_PAGE_TIMEOUT_S`` per page. An OCR timeout or failure leaves the page
  without words and with a note; the extraction still answers.
* `Grounder`: grounds the readings of one extraction (a single image, one page of a
  document, a deck's pages together) and judges them with the ``grounding`` check
  (`gateway.trust.grounding_check`), so that the check takes part in ``review`` and in the
  repair pass like the schema's own checks.
* `DocumentGrounder`: the merged document's grounding, each value's from the page it came
  from (``provenance``), and its ``grounding`` check.

Whether a request is grounded (`grounding_mode`): the request's ``grounding`` (true:
``always``, false: ``never``), else ``GATEWAY_GROUNDING_DEFAULT``: ``text_layer`` grounds
only PDF pages with a text layer, ``always`` every page, ``never`` none. A result that is not
grounded has ``grounding: null`` and no ``grounding`` check.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from schemas import SchemaSpec
from schemas.checks import CheckResult

from ..evidence.pool import OcrError
from ..evidence.words import PageWords
from ..images import ValidImage
from ..settings import Settings
from ..trust.confidence import json_pointer
from ..trust.grounding import Grounding, ground, transcribed_leaves
from ..trust.grounding_check import grounding_check, read_well, too_short_for_ocr
from ..trust.verdict import ReviewReason, Verdict
from .models import ExtractRequest, GroundingEngine
from .source import DocumentInput, Source

if TYPE_CHECKING:
    from .context import Context

__all__ = [
    "DocumentGrounder",
    "Evidence",
    "Grounder",
    "GroundingMap",
    "Mode",
    "PageEvidence",
    "engine_of",
    "grounding_mode",
]

log = logging.getLogger("gateway.pipeline.grounding")

Mode = Literal["text_layer", "always", "never"]
GroundingMap = dict[str, Grounding | None]
Judged = tuple[GroundingMap | None, CheckResult | None]

_PDFIUM = threading.Lock()
"""PDFium is not thread-safe: text layers are read one at a time in this process (the render
workers are processes of their own)."""


def grounding_mode(settings: Settings, req: ExtractRequest) -> Mode:
    """The request's ``grounding`` over ``GATEWAY_GROUNDING_DEFAULT``."""
    if req.grounding is None:
        return settings.grounding_default
    return "always" if req.grounding else "never"


@dataclass(frozen=True)
class PageEvidence:
    """The words of one page (the document's own number), or None with why (``note``; None
    when the page was simply not to be read, as an image under ``text_layer``)."""

    page: int
    words: PageWords | None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Kept with a page's outcome between an async job's ranges (`pipeline.ranges`)."""
        words = self.words.to_json() if self.words is not None else None
        return {"page": self.page, "words": words, "note": self.note}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PageEvidence:
        words = PageWords.from_json(data["words"]) if data.get("words") else None
        return cls(int(data["page"]), words, data.get("note"))


def engine_of(pages: Sequence[PageEvidence]) -> GroundingEngine | None:
    """The OCR engine that read any of ``pages``: ``{"name": "tesseract", "version":
    "5.5.4"}``; None when no page was read by OCR."""
    for page in pages:
        if page.words is not None and page.words.source == "ocr" and page.words.engine:
            name, _, rest = page.words.engine.partition(" ")
            version = rest.split(" ", 1)[0] if rest else ""
            return GroundingEngine(name=name.lower(), version=version)
    return None


def _note(pages: Sequence[PageEvidence]) -> str | None:
    notes = [p.note for p in pages if p.note]
    return "; ".join(dict.fromkeys(notes)) if notes else None


def _image_bytes(image: ValidImage) -> bytes:
    """The image as received (or as sent upstream when that is all there is)."""
    original = image.original if image.original is not None else image.url
    if isinstance(original, bytes):
        return original
    return base64.b64decode(original.split(",", 1)[1])


def _text_layer(data: bytes, number: int, wait_s: float) -> PageWords | None:
    """Page ``number``'s text layer, or None (none, unreadable, or PDFium busy past
    ``wait_s`` with another document: a thread cannot be killed like a render worker, so a
    pathological PDF costs grounding, never the extraction)."""
    from ..evidence.pdf_text import pdf_words

    if not _PDFIUM.acquire(timeout=wait_s):
        log.warning("PDFium busy for %.1f s: page %d read without its text layer", wait_s, number)
        return None
    try:
        words = pdf_words(data, [number])[0]
    except Exception as exc:  # a page PDFium renders but cannot give text for
        log.warning("no text layer read from page %d: %s", number, exc)
        return None
    finally:
        _PDFIUM.release()
    return words if words.words else None


class Evidence:
    """The words of the pages of one input (see the module docstring), read on demand and
    at most once per page and mode."""

    def __init__(self, ctx: Context, source: Source) -> None:
        self._ctx = ctx
        self._source = source
        self._tasks: dict[tuple[int, Mode], asyncio.Task[PageEvidence]] = {}

    def page(self, number: int, mode: Mode) -> Awaitable[PageEvidence]:
        """Page ``number``'s words under ``mode`` (started now, shared with every caller)."""
        key = (number, mode)
        if key not in self._tasks:
            self._tasks[key] = asyncio.ensure_future(self._read(number, mode))
        return asyncio.shield(self._tasks[key])

    async def _read(self, number: int, mode: Mode) -> PageEvidence:
        try:
            return await self._read_page(number, mode)
        except Exception as exc:  # grounding never fails an extraction
            log.exception("page %d could not be read for grounding", number)
            return PageEvidence(number, None, f"page {number} could not be read: {exc}")

    async def _read_page(self, number: int, mode: Mode) -> PageEvidence:
        if mode == "never":
            return PageEvidence(number, None)
        source = self._source
        if isinstance(source, DocumentInput) and source.kind == "pdf":
            wait_s = self._ctx.settings.ocr_page_timeout_s
            try:
                words = await asyncio.wait_for(
                    asyncio.to_thread(_text_layer, source.data, number, wait_s), 2 * wait_s
                )
            except TimeoutError:
                note = f"the text layer of page {number} took over {2 * wait_s:g} s to read"
                return PageEvidence(number, None, note)
            if words is not None:
                return PageEvidence(number, words)
        if mode == "text_layer":
            return PageEvidence(number, None)
        pool = self._ctx.ocr_pool
        if pool is None:
            note = f"page {number} has no text layer and OCR is off here (GATEWAY_OCR_WORKERS=0)"
            return PageEvidence(number, None, note)
        if isinstance(source, DocumentInput):
            data = source.data
        else:
            image = source if isinstance(source, ValidImage) else source[number - 1]
            data = await asyncio.to_thread(_image_bytes, image)
        try:
            return PageEvidence(number, await pool.read(data, number))
        except OcrError as exc:
            return PageEvidence(number, None, f"not grounded: {exc}")


class Grounder:
    """Grounds and judges the readings of one extraction against its pages' words."""

    def __init__(
        self, spec: SchemaSpec[Any], settings: Settings, pages: Sequence[Awaitable[PageEvidence]]
    ) -> None:
        """``pages``: the words of the pages read (none for a schema without transcribed
        fields: its grounding is an empty map)."""
        self._spec = spec
        self._settings = settings
        self._waiting = list(pages)
        self.pages: list[PageEvidence] = []

    async def ready(self) -> None:
        """Wait for the pages' words (read while the model answers)."""
        if self._waiting:
            self.pages = list(await asyncio.gather(*self._waiting))
            self._waiting = []

    @property
    def note(self) -> str | None:
        return _note(self.pages)

    @property
    def engine(self) -> GroundingEngine | None:
        return engine_of(self.pages)

    def judge(self, data: BaseModel) -> Judged:
        """The grounding map of ``data`` and its ``grounding`` check; (None, None) when no
        page has words (not grounded)."""
        if not self._spec.transcribed:
            return {}, None
        read = [p.words for p in self.pages if p.words is not None]
        if not read:
            return None, None
        values = data.model_dump(mode="json")
        found = ground(values, self._spec.transcribed, read, self._settings.grounding_min_score)
        unjudged = _unjudged(values, self._spec.transcribed, read)
        minimum = self._settings.grounding_min_ocr_confidence
        if len(self.pages) == 1:
            number = self.pages[0].page
            page_of = dict.fromkeys(found, number)
            well = {number: read_well(read[0], minimum)}
        else:  # several pages read together: a value may be on any of them
            page_of = dict.fromkeys(found, 0)
            well = {0: len(read) == len(self.pages) and all(read_well(w, minimum) for w in read)}
        return found, grounding_check(found, page_of, well, unjudged)


def _unjudged(
    data: dict[str, Any], transcribed: Sequence[str], read: Sequence[PageWords]
) -> set[str]:
    """The values too short to be judged where OCR read the page (`too_short_for_ocr`)."""
    if all(words.source != "ocr" for words in read):
        return set()
    return too_short_for_ocr(dict(transcribed_leaves(data, transcribed)))


def _only_from(data: dict[str, Any], provenance: Mapping[str, int], page: int) -> dict[str, Any]:
    """``data`` with every value that did not come from ``page`` nulled (list items too, so
    that pointers stay those of the merged document)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        pointer = json_pointer([key])
        if isinstance(value, list) and f"{pointer}/0" in provenance:
            out[key] = [
                item if provenance.get(f"{pointer}/{i}") == page else None
                for i, item in enumerate(value)
            ]
        else:
            out[key] = value if provenance.get(pointer) == page else None
    return out


class DocumentGrounder:
    """The pages' grounders of one document, and the merged document's grounding."""

    def __init__(
        self,
        spec: SchemaSpec[Any],
        settings: Settings,
        evidence: Evidence | None,
        mode: Mode,
        numbers: Sequence[int],
    ) -> None:
        self._spec = spec
        self._settings = settings
        self.active = evidence is not None and mode != "never"
        """Whether this document is grounded at all."""
        self._pages: dict[int, Awaitable[PageEvidence]] = {}
        if evidence is not None and self.active and spec.transcribed:
            self._pages = {n: evidence.page(n, mode) for n in numbers}
        self._read: dict[int, PageEvidence] = {}

    def for_page(self, number: int) -> Grounder | None:
        """The grounder of page ``number``'s readings (None when grounding is off)."""
        return self.for_pages([number])

    def for_pages(self, numbers: Sequence[int]) -> Grounder | None:
        """One grounder for pages read together (a slide deck)."""
        if not self.active:
            return None
        pages = [self._pages[n] for n in numbers if n in self._pages]
        return Grounder(self._spec, self._settings, pages)

    @classmethod
    def settled(
        cls,
        spec: SchemaSpec[Any],
        settings: Settings,
        mode: Mode,
        pages: Mapping[int, PageEvidence],
    ) -> DocumentGrounder:
        """A document whose pages were read earlier, elsewhere (an async job's ranges):
        ``pages`` are their words, kept with their outcomes."""
        grounder = cls(spec, settings, None, mode, [])
        grounder.active = mode != "never" and bool(pages)
        if grounder.active and spec.transcribed:
            loop = asyncio.get_running_loop()
            for number, page in pages.items():
                done: asyncio.Future[PageEvidence] = loop.create_future()
                done.set_result(page)
                grounder._pages[number] = done
            grounder._read = dict(pages)
        return grounder

    @property
    def read(self) -> dict[int, PageEvidence]:
        """The pages' words once `ready`: what a range keeps for the document's merge."""
        return dict(self._read)

    async def ready(self) -> None:
        if self._pages and not self._read:
            numbers = list(self._pages)
            read = await asyncio.gather(*(self._pages[n] for n in numbers))
            self._read = dict(zip(numbers, read, strict=True))

    @property
    def note(self) -> str | None:
        return _note(list(self._read.values()))

    @property
    def engine(self) -> GroundingEngine | None:
        return engine_of(list(self._read.values()))

    def judge(
        self, verdict: Verdict, merged: BaseModel | None, provenance: Mapping[str, int] | None
    ) -> Verdict:
        """``verdict`` with the merged document's grounding and its ``grounding`` check (a
        failure is a review reason); unchanged when nothing was grounded."""
        if not self.active or merged is None or provenance is None:
            return verdict
        if not self._spec.transcribed:
            return verdict.model_copy(update={"grounding": {}})
        data = merged.model_dump(mode="json")
        found: GroundingMap = {}
        page_of: dict[str, int] = {}
        minimum = self._settings.grounding_min_ocr_confidence
        well: dict[int, bool] = {}
        unjudged: set[str] = set()
        for number, page in self._read.items():
            if page.words is None:
                continue
            well[number] = read_well(page.words, minimum)
            subset = _only_from(data, provenance, number)
            unjudged |= _unjudged(subset, self._spec.transcribed, [page.words])
            for pointer, where in ground(
                subset, self._spec.transcribed, [page.words], self._settings.grounding_min_score
            ).items():
                found[pointer] = where
                page_of[pointer] = number
        if not well:
            return verdict
        ordered = {p: found[p] for p in sorted(found, key=_document_order(data))}
        check = grounding_check(ordered, page_of, well, unjudged)
        reasons = list(verdict.review_reasons)
        if check.status == "fail":
            reasons.append(
                ReviewReason(kind="check_failed", subject=check.name, message=check.message)
            )
        return verdict.model_copy(
            update={
                "grounding": ordered,
                "checks": [*verdict.checks, check],
                "review": verdict.review or check.status == "fail",
                "review_reasons": reasons,
            }
        )


def _document_order(data: dict[str, Any]) -> Callable[[str], tuple[int, list[int]]]:
    keys = list(data)

    def key(pointer: str) -> tuple[int, list[int]]:
        parts = pointer.split("/")[1:]
        head = keys.index(parts[0]) if parts and parts[0] in keys else len(keys)
        return head, [int(p) if p.isdigit() else 0 for p in parts[1:]]

    return key
