"""Several gateway processes on one port, each accepting on its own socket (``SO_REUSEPORT``).

Why not uvicorn's own ``workers=N``: its workers share one listening socket, and the one that
wakes first accepts a whole burst of new connections. Clients keep their connections open (the
OpenAI SDK's pool, a load balancer), so one worker ends up serving nearly all the traffic.
Measured on the 2-core dev machine with 16 keep-alive clients: one worker at 87% CPU, the
other idle, 3,700 req/s against 3,500 with a single worker. With a socket per worker the
kernel spreads new connections across the workers by address hash: 4,700 to 5,100 req/s
(``bench.gateway_overhead``).

The parent only supervises. It binds the port first, without listening, so a busy port fails
at once and no other program can take the port while workers restart; a socket that does not
listen is never handed a connection. It starts the workers, replaces one that dies, and on
SIGTERM, SIGINT or SIGHUP (a closed terminal) stops them all. A worker that dies before it
reported its startup complete means the app cannot start (a bad setting, say): the parent then
stops everything and exits with an error rather than restarting it in a loop. If the parent
itself is killed, Linux sends each worker SIGTERM, so no orphan keeps serving on the port.
"""

from __future__ import annotations

import logging
import logging.config
import multiprocessing
import os
import signal
import socket
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from .killable import die_with

__all__ = ["bind_socket", "hangup_stops_gracefully", "run_workers", "SHUTDOWN_GRACE_S"]

SHUTDOWN_GRACE_S = 30.0
"""How long stopping workers may finish in-flight requests before they are killed."""
BACKLOG = 2048

log = logging.getLogger("uvicorn.error")


def bind_socket(host: str, port: int, *, listen: bool) -> socket.socket:
    """A TCP socket on (host, port) that other ``SO_REUSEPORT`` sockets of this user may share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def hangup_stops_gracefully() -> None:
    """Make SIGHUP (a closed terminal) stop this uvicorn process as SIGTERM does.

    uvicorn finishes in-flight requests on SIGINT and SIGTERM only; SIGHUP's default action
    would end the process mid-request."""
    signal.signal(signal.SIGHUP, lambda _signum, _frame: signal.raise_signal(signal.SIGTERM))


def _die_with(supervisor: int) -> None:
    """Ask Linux to SIGTERM this worker when the supervisor dies, even by SIGKILL.

    An orphaned worker would go on serving on the port, and since every socket on it is
    ``SO_REUSEPORT``, a restarted gateway would silently share the port with it."""
    if not die_with(supervisor, signal.SIGTERM):  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _worker_main(
    options: dict[str, Any], host: str, port: int, ready: Connection, supervisor: int
) -> None:
    """One worker process: its own listening socket, one uvicorn server (which handles
    SIGTERM/SIGINT itself by finishing in-flight requests)."""
    _die_with(supervisor)
    hangup_stops_gracefully()
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)  # exits the process if the app cannot start
            if not self.should_exit:
                ready.send(True)

    config = uvicorn.Config(host=host, port=port, **options)
    sock = bind_socket(host, port, listen=True)
    Server(config).run(sockets=[sock])


@dataclass
class _Worker:
    process: BaseProcess
    ready_pipe: Connection
    ready: bool = False

    def poll_ready(self) -> bool:
        """Has this worker finished its startup (app loaded, lifespan done, listening)?"""
        if not self.ready and self.ready_pipe.poll():
            try:
                self.ready = bool(self.ready_pipe.recv())
            except EOFError:  # closed without a word: the worker died while starting
                pass
        return self.ready


def run_workers(options: dict[str, Any], host: str, port: int, count: int) -> int:
    """Serve ``uvicorn.Config(**options)`` from ``count`` processes until SIGTERM, SIGINT or
    SIGHUP.

    The supervisor logs as the workers do: with ``options``' ``log_config`` and ``log_level``.
    Returns the exit status: 0 after a requested stop, 1 if a worker failed to start.
    """
    if isinstance(options.get("log_config"), dict):
        logging.config.dictConfig(options["log_config"])
    if isinstance(options.get("log_level"), str):  # as uvicorn.Config does in each worker
        log.setLevel(options["log_level"].upper())
    holder = bind_socket(host, port, listen=False)  # raises at once if the port is taken
    port = holder.getsockname()[1]  # port 0: the workers share the one the kernel picked
    context = multiprocessing.get_context("spawn")
    stop_requested: list[int] = []

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stop_requested.append(signum)

    stop_signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {sig: signal.signal(sig, request_stop) for sig in stop_signals}

    def start() -> _Worker:
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(
            target=_worker_main,
            args=(options, host, port, writer, os.getpid()),
            name="gateway-worker",
        )
        process.start()
        writer.close()  # the child holds its own copy
        log.info("starting gateway worker (pid %s)", process.pid)
        return _Worker(process, reader)

    status = 0
    workers: list[_Worker] = []
    try:
        log.info("gateway supervisor (pid %s): %d workers on %s:%d", os.getpid(), count, host, port)
        workers = [start() for _ in range(count)]
        while not stop_requested and status == 0:
            wait([w.process.sentinel for w in workers], timeout=0.5)
            for index, worker in enumerate(workers):
                code = worker.process.exitcode
                if code is None or stop_requested:
                    continue
                if not worker.poll_ready():
                    log.error(
                        "gateway worker (pid %s) exited with %s while starting; stopping",
                        worker.process.pid,
                        code,
                    )
                    status = 1
                    break
                log.warning(
                    "gateway worker (pid %s) exited with %s; starting another",
                    worker.process.pid,
                    code,
                )
                worker.ready_pipe.close()
                workers[index] = start()
        if stop_requested:
            log.info("stopping %d gateway workers", len(workers))
    finally:
        _stop_all(workers)
        holder.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _stop_all(workers: list[_Worker]) -> None:
    """SIGTERM every worker (uvicorn drains in-flight requests), SIGKILL what outlives the
    grace period."""
    for worker in workers:
        if worker.process.exitcode is None:
            worker.process.terminate()
    deadline = time.monotonic() + SHUTDOWN_GRACE_S
    for worker in workers:
        worker.process.join(max(0.0, deadline - time.monotonic()))
        if worker.process.exitcode is None:
            log.warning("gateway worker (pid %s) still running; killing it", worker.process.pid)
            worker.process.kill()
            worker.process.join()
        worker.ready_pipe.close()
