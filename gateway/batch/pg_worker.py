"""``QueuedBatchWorker``: the batch worker of a replica on PostgreSQL, its lines dispatched by
procrastinate.

The same worker as ``worker.BatchWorker`` (its line runner, engine retries with backoff and
pause, validation, finishing, file expiry and gauges, all reused), with the claim loop replaced
by a procrastinate worker on the key database:

* one procrastinate job per batch line (``pg_queue.LINE_TASK``), deferred by the store in the
  transaction that makes the line runnable; any replica's worker fetches it (``FOR UPDATE SKIP
  LOCKED``), woken at once by procrastinate's ``LISTEN``/``NOTIFY``; the job leases its line
  (``claim_line``) and runs it with ``BatchWorker._work``, so the line id stays the
  idempotency key and a result is written once, by the lease that ran it;
* the per-replica cap ``GATEWAY_BACKGROUND_MAX_IN_FLIGHT`` (× engine replicas) is the
  procrastinate worker's ``concurrency``; a line job waits while the engine is paused;
* a dead replica: its procrastinate worker stops sending heartbeats (every
  ``GATEWAY_BATCH_LEASE_S``/3); every replica's ``_recover`` loop asks procrastinate's
  ``JobManager.get_stalled_jobs`` for jobs of workers silent for ``GATEWAY_BATCH_LEASE_S`` and
  ``retry_job``s them (procrastinate does not do this by itself), and defers a job for any
  runnable line left without one (``requeue_orphans``: a retried job that came before the dead
  worker's line lease lapsed);
* revoked keys, cancelled and expired batches: ``claim_line`` refuses their lines (the job
  ends), and housekeeping ends the batch (``close_due``) as on SQLite.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import procrastinate

from ..metrics import GatewayMetrics
from ..settings import Settings
from .blobs import FileBlobs
from .lines import LineRunner
from .pg_queue import LINE_TASK, QUEUE
from .pg_store import PostgresBatchStore
from .worker import BatchWorker

__all__ = ["QueuedBatchWorker", "procrastinate_app"]

log = logging.getLogger("gateway.batch")


def procrastinate_app(url: str, pool_size: int = 4) -> procrastinate.App:
    """A procrastinate ``App`` on the key database (its own small pool: fetching, finishing
    and the ``LISTEN`` connection)."""
    connector = procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=max(3, pool_size))
    return procrastinate.App(connector=connector)


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class QueuedBatchWorker(BatchWorker):
    """``BatchWorker`` whose lines come from procrastinate jobs (see the module docstring)."""

    def __init__(
        self,
        store: PostgresBatchStore,
        blobs: FileBlobs,
        runner: LineRunner,
        settings: Settings,
        metrics: GatewayMetrics,
        capacity: int,
    ) -> None:
        super().__init__(store, blobs, runner, settings, metrics, capacity)
        self.pg = store
        self.app = procrastinate_app(store.url)
        self.app.task(name=LINE_TASK, queue=QUEUE)(self.line_job)

    async def run(self) -> None:
        """Forever (until cancelled): the procrastinate worker, recovery of stalled jobs, and
        housekeeping (validation, finishing, expiry, gauges)."""
        while True:
            try:
                async with self.app.open_async():  # waits for a first connection
                    await asyncio.gather(
                        self._procrastinate_loop(), self._recover_loop(), self._housekeeping_loop()
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is unreachable: try again
                if _cancelling():
                    return
                log.warning("batch queue unavailable: %s", type(exc).__name__)
            if _cancelling():
                return
            await asyncio.sleep(self.settings.batch_poll_s)

    async def _procrastinate_loop(self) -> None:
        """procrastinate's worker, started again if it stops (its database connection lost:
        it stops when a side task such as its ``LISTEN`` fails)."""
        lease = self.settings.batch_lease_s
        while True:
            try:
                await self.app.run_worker_async(
                    queues=[QUEUE],
                    name="gateway-batch",
                    concurrency=self.capacity,
                    install_signal_handlers=False,
                    listen_notify=True,
                    fetch_job_polling_interval=max(self.settings.batch_poll_s, 5.0),
                    update_heartbeat_interval=lease / 3,
                    stalled_worker_timeout=lease,
                    shutdown_graceful_timeout=0,
                    delete_jobs="always",
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if _cancelling():
                    return
                log.warning("batch queue worker stopped: %s", type(exc).__name__)
            if _cancelling():  # the worker ended because the gateway is stopping
                return
            await asyncio.sleep(self.settings.batch_poll_s)

    async def _housekeeping_loop(self) -> None:
        """``BatchWorker``'s housekeeping, woken at once by ``poke`` (a batch created or
        cancelled on this replica is validated or ended without waiting for the poll)."""
        while True:
            try:
                await self.housekeeping()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("batch housekeeping failed: %s", type(exc).__name__)
            await self._nap(self.settings.batch_poll_s)

    async def line_job(self, line_id: str) -> None:
        """One line's job: wait out an engine pause, lease the line, run it (nothing when
        the line is done, leased elsewhere, or not runnable any more)."""
        while (pause := self.paused_until - time.time()) > 0:
            await asyncio.sleep(pause)
        unit = await self.pg.claim_line(line_id, time.time(), self.settings.batch_lease_s)
        if unit is not None:
            await self._work(unit)

    async def recover(self) -> tuple[int, int]:
        """Retry the jobs of dead workers and requeue runnable lines without a job; how many
        of each."""
        manager: Any = self.app.job_manager
        stalled = list(
            await manager.get_stalled_jobs(
                queue=QUEUE, seconds_since_heartbeat=self.settings.batch_lease_s
            )
        )
        for job in stalled:
            try:
                await manager.retry_job(job)
            except Exception as exc:  # retried meanwhile by another replica, or a job of the
                # line already queued again (its queueing lock): the line is not lost either way
                log.warning("batch stalled job not retried: %s", type(exc).__name__)
        orphans = await self.pg.requeue_orphans(time.time())
        if stalled or orphans:
            log.info("batch lines recovered: %d stalled jobs, %d requeued", len(stalled), orphans)
        return len(stalled), orphans

    async def _recover_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.batch_lease_s / 2)
            try:
                await self.recover()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is busy or gone: the next round retries
                log.warning("batch recovery failed: %s", type(exc).__name__)
