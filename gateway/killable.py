"""Worker processes that can be killed: the one mechanism under the render and OCR pools.

PDFium and Tesseract run C code that no Python thread can interrupt, and PDFium is not
thread-safe; a process can be killed. `KillablePool` keeps at most ``workers`` requests in
worker processes at once (more wait on a semaphore: nothing blocks the event loop), starts
each worker with ``spawn`` on first use and reuses it, waits for an answer in a thread at most
``timeout_s``, and kills a worker that passes its deadline or dies: the next request gets a
fresh one. Each worker says ``"ready"`` once it has loaded what it needs, so that start-up
(the interpreter, PDFium, the OCR model) is not counted against the first request's time.
Workers die with the gateway: a closed pipe ends an idle one, and Linux kills a busy one when
the gateway process dies (`die_with`).

    pool = KillablePool(2, "gateway-render", _worker_main)   # _worker_main(conn, parent, *args)
    answer = await pool.call(job, timeout_s=30.0)             # TimeoutError, WorkerDied
    await pool.aclose()

The worker side: ``die_with(parent)``, then `serve` with a function from request to answer.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import anyio

__all__ = ["START_TIMEOUT_S", "KillablePool", "WorkerDied", "die_with", "serve"]

START_TIMEOUT_S = 60.0
"""A worker that has not loaded what it needs within this time is broken."""
_PR_SET_PDEATHSIG = 1
_READY = "ready"

log = logging.getLogger("gateway.killable")


class WorkerDied(Exception):
    """The worker's pipe closed (it crashed, or was killed), it could not start, or it
    answered something its pool does not accept."""


def die_with(parent: int, sig: signal.Signals = signal.SIGKILL) -> bool:
    """Ask Linux to send ``sig`` to this process when ``parent`` dies, even by SIGKILL.
    False when the parent is already gone (the caller should exit); True otherwise, and on
    systems without ``prctl`` (there a closed pipe still ends an idle worker)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
    except (OSError, AttributeError):
        return True
    return os.getppid() == parent


def serve(conn: Connection, handle: Callable[[Any], object]) -> None:
    """The worker's loop: say ready, then answer one request at a time until the pipe closes.
    ``handle`` turns a request into the answer sent back (errors included, as values)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the gateway, which stops us
    conn.send(_READY)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(handle(request))


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(
        self,
        context: multiprocessing.context.SpawnContext,
        name: str,
        target: Callable[..., None],
        args: tuple[Any, ...],
    ) -> None:
        parent, child = context.Pipe(duplex=True)
        self.process: BaseProcess = context.Process(
            target=target, args=(child, os.getpid(), *args), name=name, daemon=True
        )
        self.process.start()
        child.close()
        self.conn: Connection = parent
        self.ready = False

    def exchange(self, request: object, timeout_s: float) -> object:
        """Blocking (called in a thread): send ``request``, wait for the answer or the
        deadline (`TimeoutError`)."""
        if not self.ready:
            if not self.conn.poll(START_TIMEOUT_S):
                raise WorkerDied("did not start")
            if (hello := self._recv()) != _READY:
                raise WorkerDied(f"could not start: {hello}"[:300])
            self.ready = True
        self.conn.send(request)
        if not self.conn.poll(timeout_s):
            raise TimeoutError
        return self._recv()

    def _recv(self) -> object:
        try:
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerDied(str(exc) or "pipe closed") from exc

    def kill(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


class KillablePool:
    """At most ``workers`` requests at once, in killable worker processes (module docstring).

    ``target(conn, parent_pid, *args)`` is the worker's main function."""

    def __init__(
        self, workers: int, name: str, target: Callable[..., None], args: tuple[Any, ...] = ()
    ) -> None:
        if workers < 1:
            raise ValueError(f"a {name} pool needs at least one worker")
        self.workers = workers
        self.name = name
        self._target = target
        self._args = args
        self._slots = asyncio.Semaphore(workers)
        self._idle: list[_Worker] = []
        self._context = multiprocessing.get_context("spawn")
        self.started = 0
        """Worker processes started so far (a restart after a kill counts): for tests and
        metrics."""

    async def call(
        self, request: object, timeout_s: float, accept: Callable[[object], bool]
    ) -> object:
        """``request``'s answer from a worker. An answer ``accept`` refuses counts as a dead
        worker (`WorkerDied`); past ``timeout_s`` it is `TimeoutError`. Either way the worker
        is killed and logged; an accepted answer keeps it for the next request."""
        async with self._slots:
            worker = self._idle.pop() if self._idle else self._start()
            healthy = False
            try:
                answer = await anyio.to_thread.run_sync(worker.exchange, request, timeout_s)
                if not accept(answer):
                    raise WorkerDied(f"answered {answer!r}"[:300])
                healthy = True
                return answer
            except TimeoutError:
                log.warning(
                    "%s worker (pid %s) passed its %g s deadline; killing it",
                    self.name,
                    worker.process.pid,
                    timeout_s,
                )
                raise
            except WorkerDied as exc:
                log.warning("%s worker (pid %s) died: %s", self.name, worker.process.pid, exc)
                raise
            finally:
                if healthy:
                    self._idle.append(worker)
                else:
                    await anyio.to_thread.run_sync(worker.kill)

    def _start(self) -> _Worker:
        self.started += 1
        return _Worker(self._context, self.name, self._target, self._args)

    def pids(self) -> list[int]:
        """Process ids of the idle workers (tests check they are gone after a kill)."""
        return [w.process.pid for w in self._idle if w.process.pid is not None]

    async def aclose(self) -> None:
        """Stop every idle worker (closing its pipe ends it; a kill if it lingers)."""
        idle, self._idle = self._idle, []
        for worker in idle:
            await anyio.to_thread.run_sync(worker.kill)
