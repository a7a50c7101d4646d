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

import asyncio
import importlib
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Literal

import anyio

from ..documents.pool import _die_with
from .words import PageWords

__all__ = ["DEFAULT_READER", "START_TIMEOUT_S", "OcrError", "OcrPool"]

DEFAULT_READER = "gateway.evidence.ocr:read_image"
START_TIMEOUT_S = 60.0
"""A worker that has not loaded the engine within this time is broken."""

log = logging.getLogger("gateway.evidence")


class OcrError(Exception):
    """A page could not be read: ``reason`` is ``timeout`` (past the cap, worker killed) or
    ``failed`` (the worker died or the engine raised)."""

    def __init__(self, reason: Literal["timeout", "failed"], message: str, page: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.page = page


class _WorkerDied(Exception):
    """The worker's pipe closed: it crashed, or was killed."""


class _Worker:
    """One OCR process and the parent's end of its pipe."""

    def __init__(self, context: multiprocessing.context.SpawnContext, reader: str) -> None:
        parent, child = context.Pipe(duplex=True)
        self.process: BaseProcess = context.Process(
            target=_worker_main,
            args=(child, os.getpid(), reader),
            name="gateway-ocr",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.conn: Connection = parent
        self.ready = False

    def run(self, data: bytes, page: int, timeout_s: float) -> PageWords:
        """Blocking (called in a thread): send the page, wait for the answer or the cap."""
        if not self.ready:
            if not self.conn.poll(START_TIMEOUT_S):
                raise _WorkerDied("did not start")
            if (hello := self._recv()) != "ready":
                raise _WorkerDied(f"could not start: {hello}")
            self.ready = True
        self.conn.send((data, page))
        if not self.conn.poll(timeout_s):
            raise TimeoutError
        answer = self._recv()
        if not isinstance(answer, PageWords):
            raise _WorkerDied(f"answered {answer!r}"[:300])
        return answer

    def _recv(self) -> object:
        try:
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            raise _WorkerDied(str(exc) or "pipe closed") from exc

    def kill(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


class OcrPool:
    """At most ``workers`` pages being read at once, in killable worker processes."""

    def __init__(self, workers: int, page_timeout_s: float, reader: str = DEFAULT_READER) -> None:
        if workers < 1:
            raise ValueError("an OCR pool needs at least one worker")
        if page_timeout_s <= 0:
            raise ValueError("the OCR page timeout must be positive")
        self.workers = workers
        self.page_timeout_s = page_timeout_s
        self.reader = reader
        self._slots = asyncio.Semaphore(workers)
        self._idle: list[_Worker] = []
        self._context = multiprocessing.get_context("spawn")
        self.started = 0
        """Worker processes started so far (a restart after a kill counts)."""

    async def read(self, data: bytes, page: int) -> PageWords:
        """The words of the encoded image ``data``, the document's page ``page``."""
        async with self._slots:
            worker = self._idle.pop() if self._idle else self._start()
            healthy = False
            try:
                words = await anyio.to_thread.run_sync(worker.run, data, page, self.page_timeout_s)
                healthy = True
                return words
            except TimeoutError:
                log.warning(
                    "OCR worker (pid %s) passed the %g s cap on page %d; killing it",
                    worker.process.pid,
                    self.page_timeout_s,
                    page,
                )
                raise OcrError(
                    "timeout",
                    f"OCR of page {page} passed GATEWAY_OCR_PAGE_TIMEOUT_S "
                    f"({self.page_timeout_s:g} s)",
                    page,
                ) from None
            except _WorkerDied as exc:
                log.warning(
                    "OCR worker (pid %s) died on page %d: %s", worker.process.pid, page, exc
                )
                raise OcrError("failed", f"OCR of page {page} failed: {exc}", page) from None
            finally:
                if healthy:
                    self._idle.append(worker)
                else:
                    await anyio.to_thread.run_sync(worker.kill)

    def _start(self) -> _Worker:
        self.started += 1
        return _Worker(self._context, self.reader)

    def pids(self) -> list[int]:
        """Process ids of the idle workers."""
        return [w.process.pid for w in self._idle if w.process.pid is not None]

    async def aclose(self) -> None:
        """Stop every idle worker."""
        idle, self._idle = self._idle, []
        for worker in idle:
            await anyio.to_thread.run_sync(worker.kill)


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
    """The OCR process: load the engine, say so, answer pages until EOF. An engine error
    answers that page with its message (the parent counts it as failed)."""
    _die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        read = _load(reader)
    except Exception as exc:  # said to the parent, which logs it
        conn.send(f"{type(exc).__name__}: {exc}")
        return
    conn.send("ready")
    while True:
        try:
            data, page = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer: object = read(data, page)
        except Exception as exc:  # a page the engine cannot read: say so, stay up
            logging.getLogger("gateway.evidence").exception("OCR failed on page %d", page)
            answer = f"{type(exc).__name__}: {exc}"
        conn.send(answer)
