"""``QueuedJobWorker``: the jobs' worker of a replica on PostgreSQL, its units dispatched by
procrastinate, as the Batch API's lines are (``batch.pg_worker``).

The same worker as ``worker.JobWorker`` (the unit runner, engine retries with backoff and
pause, planning, finishing, revoked keys, expiry and gauges, all reused), with the claim loop
replaced by a procrastinate worker on the key database (``batch.pg_dispatch.QueueDispatch``):

* one procrastinate job per unit (``pg_store.UNIT_TASK`` on ``pg_store.QUEUE``), deferred by
  the store in the transaction that plans the job or gives a unit back for a retry; any
  replica's worker fetches it, woken at once by ``LISTEN``/``NOTIFY``; the job leases its unit
  (``claim_unit``) and runs it with ``JobWorker._work``, so a result is written once, by the
  lease that ran it;
* the per-replica cap (``GATEWAY_BACKGROUND_MAX_IN_FLIGHT`` × engine replicas) is the
  procrastinate worker's ``concurrency``; a unit's job waits while the engine is paused;
* a dead replica: every replica's recovery retries the jobs of procrastinate workers silent
  for ``GATEWAY_BATCH_LEASE_S`` on this queue, and defers a job for any runnable unit left
  without one (``requeue_orphans``);
* planning, finishing, revoked keys and expiry run in every replica's housekeeping, safe
  between replicas by ``FOR UPDATE SKIP LOCKED`` leases on the job row.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..batch.pg_dispatch import QueueDispatch
from ..metrics import GatewayMetrics
from ..settings import Settings
from .pg_store import QUEUE, UNIT_TASK, PostgresJobStore
from .runner import JobRunner
from .worker import JobWorker

__all__ = ["QueuedJobWorker"]

log = logging.getLogger("gateway.jobs")


class QueuedJobWorker(JobWorker):
    """``JobWorker`` whose units come from procrastinate jobs (see the module docstring)."""

    def __init__(
        self,
        store: PostgresJobStore,
        runner: JobRunner,
        settings: Settings,
        metrics: GatewayMetrics,
        capacity: int,
        app_state: Any,
    ) -> None:
        super().__init__(store, runner, settings, metrics, capacity, app_state)
        self.pg = store
        self.dispatch = QueueDispatch(
            store.url,
            QUEUE,
            UNIT_TASK,
            self.unit_job,
            store.requeue_orphans,
            settings,
            capacity,
            log,
        )
        self.app = self.dispatch.app

    async def run(self) -> None:
        """Forever (until cancelled): the procrastinate worker, recovery of stalled jobs, and
        housekeeping (planning, finishing, revoked keys, expiry, gauges)."""
        await self.dispatch.run(self._housekeeping_loop)

    async def unit_job(self, unit_id: str) -> None:
        """One unit's job: wait out an engine pause, lease the unit, run it (nothing when
        the unit is done, leased elsewhere, or its job ended)."""
        while (pause := self.paused_until - time.time()) > 0:
            await asyncio.sleep(pause)
        unit = await self.pg.claim_unit(unit_id, time.time(), self.settings.batch_lease_s)
        if unit is not None:
            await self._work(unit)

    async def recover(self) -> tuple[int, int]:
        """Retry the jobs of dead workers and requeue runnable units without a job; how many
        of each."""
        return await self.dispatch.recover(time.time())
