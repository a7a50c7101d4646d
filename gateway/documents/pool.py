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

import logging
from multiprocessing.connection import Connection

from ..errors import ErrorCode
from ..killable import START_TIMEOUT_S, KillablePool, WorkerDied, die_with, serve
from .errors import DocumentError
from .render import RenderedDocument, RenderJob, render_document, timeout_error

__all__ = ["KILL_GRACE_S", "START_TIMEOUT_S", "RenderPool"]

KILL_GRACE_S = 2.0
"""How long past the render deadline a worker may take to refuse by itself before the kill."""


class RenderPool:
    """At most ``workers`` documents rendering at once, in killable worker processes
    (`gateway.killable`)."""

    def __init__(self, workers: int) -> None:
        self._pool = KillablePool(workers, "gateway-render", _worker_main)
        self.workers = workers

    @property
    def started(self) -> int:
        """Worker processes started so far (a restart after a kill counts)."""
        return self._pool.started

    async def render(self, job: RenderJob) -> RenderedDocument:
        """Render ``job`` in a worker; `DocumentError` for any refusal, timeout included."""
        try:
            answer = await self._pool.call(
                job,
                job.limits.render_timeout_s + KILL_GRACE_S,
                lambda a: isinstance(a, RenderedDocument | DocumentError),
            )
        except TimeoutError:
            raise timeout_error(job) from None
        except WorkerDied:
            raise DocumentError(
                400,
                f"the {job.kind.upper()} could not be rendered (the renderer stopped "
                f"on it); it is probably corrupt",
                param=job.param,
                code=ErrorCode.DOCUMENT_CORRUPT,
            ) from None
        if isinstance(answer, DocumentError):
            raise answer  # a clean refusal: the worker is fine
        assert isinstance(answer, RenderedDocument)
        return answer

    def pids(self) -> list[int]:
        """Process ids of the idle workers (tests check they are gone after a kill)."""
        return self._pool.pids()

    async def aclose(self) -> None:
        """Stop every idle worker."""
        await self._pool.aclose()


def _render(job: RenderJob) -> object:
    try:
        return render_document(job)
    except DocumentError as exc:
        return exc
    except Exception:  # a bug or a PDFium failure we did not foresee: say so, stay up
        logging.getLogger("gateway.documents").exception("rendering failed")
        return DocumentError(
            500,
            "rendering the document failed",
            param=job.param,
            code=ErrorCode.DOCUMENT_RENDER_FAILED,
        )


def _worker_main(conn: Connection, parent: int) -> None:
    """The render process: answer one job at a time until the pipe closes."""
    if die_with(parent):
        serve(conn, _render)
