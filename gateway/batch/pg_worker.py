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

from ..metrics import GatewayMetrics
from ..settings import Settings
from .blobs import FileBlobs
from .lines import LineRunner
from .pg_dispatch import QueueDispatch, procrastinate_app
from .pg_queue import LINE_TASK, QUEUE
from .pg_store import PostgresBatchStore
from .worker import BatchWorker

__all__ = ["QueuedBatchWorker", "procrastinate_app"]

log = logging.getLogger("gateway.batch")


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
        self.dispatch = QueueDispatch(
            store.url,
            QUEUE,
            LINE_TASK,
            self.line_job,
            store.requeue_orphans,
            settings,
            capacity,
            log,
        )
        self.app = self.dispatch.app

    async def run(self) -> None:
        """Forever (until cancelled): the procrastinate worker, recovery of stalled jobs, and
        housekeeping (validation, finishing, expiry, gauges)."""
        await self.dispatch.run(self._housekeeping_loop)

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
        of each (``pg_dispatch.QueueDispatch.recover``)."""
        return await self.dispatch.recover(time.time())
