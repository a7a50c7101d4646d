"""`OcrPool`: OCR runs in worker processes of its own, a bounded number at a time, each page
with a time cap after which its worker is killed.

The same pattern as the render pool (`gateway.documents.pool`, whose docstring says why
processes and not threads), kept apart from it so that OCR, which takes a few hundred
milliseconds of CPU a page and a worker ~115 MB resident (~280 MB at its peak on a
300 dpi A4 page), neither bloats nor queues behind the render
workers:

* at most ``workers`` pages are read at once; more wait (``await`` on a semaphore);
* workers are ``spawn``ed on first use and reused; each loads the engine before it says it
  is ready, so the first page does not pay for the model inside its time cap;
* the gateway waits in a thread at most ``page_timeout_s`` (``GATEWAY_OCR_PAGE_TIMEOUT_S``);
  a worker that has not answered by then is killed and the caller gets `OcrError` with
  ``reason="timeout"``; a worker that dies is ``reason="failed"``; either way the next page
  starts a fresh worker, and the caller answers without grounding rather than failing;
* workers die with the gateway (a closed pipe ends them; ``PR_SET_PDEATHSIG`` if it is
  killed).

    pool = OcrPool(workers=1, page_timeout_s=20)
    words = await pool.read(png_bytes, page=1)      # PageWords, or raises OcrError
    await pool.aclose()

``reader`` names the function a worker calls, ``"module:function"`` taking ``(data: bytes,
page: int)`` and returning `PageWords`; tests pass stand-ins that hang or crash.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Literal

from ..killable import START_TIMEOUT_S, KillablePool, WorkerDied, die_with, serve
from .words import PageWords

__all__ = ["DEFAULT_READER", "START_TIMEOUT_S", "OcrError", "OcrPool"]

DEFAULT_READER = "gateway.evidence.ocr:read_image"


class OcrError(Exception):
    """A page could not be read: ``reason`` is ``timeout`` (past the cap, worker killed) or
    ``failed`` (the worker died or the engine raised)."""

    def __init__(self, reason: Literal["timeout", "failed"], message: str, page: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.page = page


class OcrPool:
    """At most ``workers`` pages being read at once, in killable worker processes
    (`gateway.killable`)."""

    def __init__(self, workers: int, page_timeout_s: float, reader: str = DEFAULT_READER) -> None:
        if page_timeout_s <= 0:
            raise ValueError("the OCR page timeout must be positive")
        self._pool = KillablePool(workers, "gateway-ocr", _worker_main, (reader,))
        self.workers = workers
        self.page_timeout_s = page_timeout_s
        self.reader = reader

    @property
    def started(self) -> int:
        """Worker processes started so far (a restart after a kill counts)."""
        return self._pool.started

    async def read(self, data: bytes, page: int) -> PageWords:
        """The words of the encoded image ``data``, the document's page ``page``."""
        try:
            words = await self._pool.call(
                (data, page), self.page_timeout_s, lambda a: isinstance(a, PageWords)
            )
        except TimeoutError:
            raise OcrError(
                "timeout",
                f"OCR of page {page} passed GATEWAY_OCR_PAGE_TIMEOUT_S ({self.page_timeout_s:g} s)",
                page,
            ) from None
        except WorkerDied as exc:
            raise OcrError("failed", f"OCR of page {page} failed: {exc}", page) from None
        assert isinstance(words, PageWords)
        return words

    def pids(self) -> list[int]:
        """Process ids of the idle workers."""
        return self._pool.pids()

    async def aclose(self) -> None:
        """Stop every idle worker."""
        await self._pool.aclose()


def _load(reader: str) -> Callable[[bytes, int], PageWords]:
    """The reader function named ``module:function``; the module's ``warm_up()``, if it has
    one, runs first (it loads the engine's models)."""
    name, _, attribute = reader.partition(":")
    module = importlib.import_module(name)
    if callable(warm_up := getattr(module, "warm_up", None)):
        warm_up()
    function: Callable[[bytes, int], PageWords] = getattr(module, attribute)
    return function


def _worker_main(conn: Connection, parent: int, reader: str) -> None:
    """The OCR process: load the engine, say so, answer pages until the pipe closes. An
    engine error answers that page with its message (the parent counts it as failed)."""
    if not die_with(parent):
        return
    try:
        read = _load(reader)
    except Exception as exc:  # said to the parent, which logs it
        conn.send(f"{type(exc).__name__}: {exc}")
        return

    def answer(request: tuple[bytes, int]) -> object:
        data, page = request
        try:
            return read(data, page)
        except Exception as exc:  # a page the engine cannot read: say so, stay up
            logging.getLogger("gateway.evidence").exception("OCR failed on page %d", page)
            return f"{type(exc).__name__}: {exc}"

    serve(conn, answer)
