"""`RenderPool`: documents render in worker processes, a bounded number at a time, each with a
deadline after which its worker is killed.

Why processes, not threads: PDFium is not thread-safe (pypdfium2 says so, and serialises
nothing for us), and a hostile PDF can keep it busy in C code where no Python thread can be
interrupted. A worker process can be killed. So:

* at most ``workers`` documents render at once; more wait their turn (``await`` on a
  semaphore: nothing blocks the event loop);
* each worker is a long-lived ``spawn``ed process that renders one document at a time and
  is reused, so start-up (interpreter, Pillow, PDFium) is paid once per worker, not per
  document; workers start on first use, so a gateway that never sees a PDF starts none;
* the gateway waits for an answer in a thread, at most ``render_timeout_s`` plus a grace
  period; a worker that has not answered by then is killed, the request gets a 413 naming
  ``GATEWAY_DOCUMENT_RENDER_TIMEOUT_S``, and the next document starts a fresh worker. The
  worker also checks the deadline itself between pages and refuses cleanly, so a kill is
  only needed when a single page hangs;
* a worker that dies mid-render (PDFium crashed on a malformed file) is a 400 for that
  document and a fresh worker for the next;
* workers die with the gateway: they read jobs from a pipe and exit when it closes, and
  Linux kills them if the gateway process dies (``PR_SET_PDEATHSIG``).

    pool = RenderPool(workers=2)
    document = await pool.render(job)       # RenderedDocument, or raises DocumentError
    await pool.aclose()
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import anyio

from ..errors import ErrorCode
from .errors import DocumentError
from .render import RenderedDocument, RenderJob, render_document, timeout_error

__all__ = ["KILL_GRACE_S", "START_TIMEOUT_S", "RenderPool"]

KILL_GRACE_S = 2.0
"""How long past the render deadline a worker may take to refuse by itself before the kill."""
START_TIMEOUT_S = 60.0
"""A worker that has not imported PDFium and Pillow within this time is broken."""
PR_SET_PDEATHSIG = 1

log = logging.getLogger("gateway.documents")


class _WorkerDied(Exception):
    """The worker's pipe closed: it crashed, or was killed."""


class _Worker:
    """One render process and the parent's end of its pipe."""

    def __init__(self, context: multiprocessing.context.SpawnContext) -> None:
        parent, child = context.Pipe(duplex=True)
        self.process: BaseProcess = context.Process(
            target=_worker_main, args=(child, os.getpid()), name="gateway-render", daemon=True
        )
        self.process.start()
        child.close()
        self.conn: Connection = parent
        self.ready = False

    def run(self, job: RenderJob, timeout_s: float) -> RenderedDocument:
        """Blocking (called in a thread): send ``job``, wait for the answer or the deadline."""
        if not self.ready:
            if not self.conn.poll(START_TIMEOUT_S):
                raise _WorkerDied("did not start")
            self._recv()
            self.ready = True
        self.conn.send(job)
        if not self.conn.poll(timeout_s):
            raise TimeoutError
        answer = self._recv()
        if isinstance(answer, DocumentError):
            raise answer
        if not isinstance(answer, RenderedDocument):
            raise _WorkerDied(f"answered {type(answer).__name__}")
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


class RenderPool:
    """At most ``workers`` documents rendering at once, in killable worker processes."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError("a render pool needs at least one worker")
        self.workers = workers
        self._slots = asyncio.Semaphore(workers)
        self._idle: list[_Worker] = []
        self._context = multiprocessing.get_context("spawn")
        self.started = 0
        """Worker processes started so far (a restart after a kill counts): for tests and
        metrics."""

    async def render(self, job: RenderJob) -> RenderedDocument:
        """Render ``job`` in a worker; `DocumentError` for any refusal, timeout included."""
        async with self._slots:
            worker = self._idle.pop() if self._idle else self._start()
            healthy = False
            try:
                result = await anyio.to_thread.run_sync(
                    worker.run, job, job.limits.render_timeout_s + KILL_GRACE_S
                )
                healthy = True
                return result
            except DocumentError:
                healthy = True  # a clean refusal: the worker is fine
                raise
            except TimeoutError:
                log.warning(
                    "render worker (pid %s) passed the %g s deadline; killing it",
                    worker.process.pid,
                    job.limits.render_timeout_s,
                )
                raise timeout_error(job) from None
            except _WorkerDied as exc:
                log.warning("render worker (pid %s) died: %s", worker.process.pid, exc)
                raise DocumentError(
                    400,
                    f"the {job.kind.upper()} could not be rendered (the renderer stopped "
                    f"on it); it is probably corrupt",
                    param=job.param,
                    code=ErrorCode.DOCUMENT_CORRUPT,
                ) from None
            finally:
                if healthy:
                    self._idle.append(worker)
                else:
                    await anyio.to_thread.run_sync(worker.kill)

    def _start(self) -> _Worker:
        self.started += 1
        return _Worker(self._context)

    def pids(self) -> list[int]:
        """Process ids of the idle workers (tests check they are gone after a kill)."""
        return [w.process.pid for w in self._idle if w.process.pid is not None]

    async def aclose(self) -> None:
        """Stop every idle worker (closing its pipe ends it; a kill if it lingers)."""
        idle, self._idle = self._idle, []
        for worker in idle:
            await anyio.to_thread.run_sync(worker.kill)


def _worker_main(conn: Connection, parent: int) -> None:
    """The render process: announce readiness, then answer one job at a time until EOF."""
    _die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the gateway, which stops us
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer: object = render_document(job)
        except DocumentError as exc:
            answer = exc
        except Exception:  # a bug or a PDFium failure we did not foresee: say so, stay up
            logging.getLogger("gateway.documents").exception("rendering failed")
            answer = DocumentError(
                500,
                "rendering the document failed",
                param=job.param,
                code=ErrorCode.DOCUMENT_RENDER_FAILED,
            )
        conn.send(answer)


def _die_with(parent: int) -> None:
    """Ask Linux to kill this worker when the gateway process dies, even mid-render."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the closed pipe still ends an idle worker
        return
    if os.getppid() != parent:
        os._exit(0)
