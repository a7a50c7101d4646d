"""The jobs' claim loop: page ranges leased from the store and run in the gateway process.

``JobWorker.run()`` is a lifespan task, the same loop as the Batch API's
(`gateway.batch.worker.BatchWorker`), through the ``JobStore`` interface only:

* **plan** new ``pages`` jobs (page count, ranges queued) under a lease on the job row;
* **claim** runnable units, as many as it has free background slots, each with a lease its
  task renews every third of ``GATEWAY_BATCH_LEASE_S``; a unit of a killed gateway is
  claimed again once its lease lapses, and its result is written only under the lease that
  ran it, once: every page is in the result exactly once;
* **retry** a unit the engine could not answer after ``GATEWAY_BATCH_RETRY_BACKOFF_S`` ×
  2^retries (at most 60 s), pausing the loop as long; after ``GATEWAY_BATCH_RETRY_MAX``
  retries the engine's error is recorded as the synchronous path records it;
* **finish** jobs whose units are all done (the merge, under a lease), cancel the jobs of
  revoked keys, delete jobs past ``GATEWAY_FILES_TTL_S`` with their stored input for good,
  and refresh the ``job_page`` gauges. Every end calls `events.job_ended`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from ..batch.lines import EngineTrouble
from ..batch.worker import BACKOFF_CAP_S
from ..claimloop import ClaimLoop
from ..errors import ErrorCode, GatewayError
from ..metrics import GatewayMetrics
from ..settings import Settings
from .caps import error_of
from .events import job_ended
from .runner import JobRunner
from .store import JobRow, JobStore, JobUnit

__all__ = ["JobWorker"]

log = logging.getLogger("gateway.jobs")

SWEEP_EVERY_S = 60.0
REVOKED = error_of(
    GatewayError(403, "the job was cancelled: its API key was revoked", code=ErrorCode.KEY_REVOKED)
)

INTERNAL = error_of(
    GatewayError(500, "internal error in the gateway", code=ErrorCode.INTERNAL_ERROR)
)


class JobWorker(ClaimLoop[JobUnit]):
    """Runs the job queue of one gateway process (see the module docstring)."""

    def __init__(
        self,
        store: JobStore,
        runner: JobRunner,
        settings: Settings,
        metrics: GatewayMetrics,
        capacity: int,
        app_state: Any,
    ) -> None:
        super().__init__(store, settings, capacity, "job unit", log)
        self.store = store
        self.runner = runner
        self.metrics = metrics
        self.app_state = app_state
        self._last_sweep = 0.0

    async def ended(self, job: JobRow | None) -> None:
        """Tell `events.job_ended` (a failure there never stops the loop)."""
        if job is None:
            return
        try:
            await job_ended(self.app_state, job)
        except Exception as exc:
            log.error("job_ended failed for %s: %s", job.id, type(exc).__name__)

    # --- units --------------------------------------------------------------------------
    async def _work(self, unit: JobUnit) -> None:
        job = await self.store.get_job(unit.owner, unit.job_id)
        if job is None or job.status not in ("queued", "in_progress"):
            return
        keeper = asyncio.create_task(self._keep_lease(unit))
        try:
            last_try = unit.retries >= self.settings.batch_retry_max
            record = await self.runner.run(job, unit, last_try)
        except EngineTrouble:
            self.engine_failures += 1
            pause = self._backoff(self.engine_failures - 1)
            self.paused_until = max(self.paused_until, time.time() + pause)
            await self.store.retry_later(unit, time.time() + self._backoff(unit.retries))
            return
        finally:
            keeper.cancel()
        self.engine_failures = 0
        if await self.store.finish_unit(unit, json.dumps(record)) and "fatal" in record:
            # The document cannot be read: the job fails now, its other ranges unrun.
            ended = await self.store.end_job(job.id, "failed", None, record["fatal"], time.time())
            await self._drop_input(ended)
            await self.ended(ended)

    def _backoff(self, retries: int) -> float:
        return float(min(self.settings.batch_retry_backoff_s * 2**retries, BACKOFF_CAP_S))

    # --- jobs ---------------------------------------------------------------------------
    async def _housekeeping_loop(self) -> None:
        while True:
            try:
                await self.housekeeping()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("job housekeeping failed: %s", type(exc).__name__)
            await asyncio.sleep(self.settings.batch_poll_s)

    async def housekeeping(self) -> None:
        """One round: plan new jobs, finish done ones, stop revoked keys', expire, gauges."""
        lease = self.settings.batch_lease_s
        for job in await self.store.close_inactive(REVOKED, time.time()):
            await self._drop_input(job)
            await self.ended(job)
        while (planned := await self.store.claim_planning(time.time(), lease)) is not None:
            await self._plan(planned)
            self.wake.set()
        for done in await self.store.claim_finishing(time.time(), lease):
            await self._finish(done)
        now = time.time()
        if now - self._last_sweep >= min(SWEEP_EVERY_S, self.settings.files_ttl_s):
            self._last_sweep = now
            for job in await self.store.take_expired(now):
                await self._drop_input(job)
        depth, oldest = await self.store.queue_stats(now)
        self.metrics.queue_depth.labels(kind="job_page").set(depth)
        self.metrics.queue_oldest_age.labels(kind="job_page").set(oldest)

    async def _plan(self, job: JobRow) -> None:
        try:
            page_count, units = await self.runner.plan(job)
        except GatewayError as error:
            ended = await self.store.end_job(job.id, "failed", None, error_of(error), time.time())
            await self._drop_input(ended)
            await self.ended(ended)
            return
        await self.store.plan(job.id, page_count, units, time.time())

    async def _finish(self, job: JobRow) -> None:
        keeper = asyncio.create_task(self._keep_finishing(job.id))
        try:
            records = [json.loads(r) for _, r in await self.store.unit_results(job.id)]
            status, result, error = await self.runner.finish(job, records)
        except Exception as exc:  # a bug: the job fails, the queue goes on (no content logged)
            # No traceback: a validation error's text would quote the document's data.
            log.error("finishing job %s failed: %s", job.id, type(exc).__name__)
            status, result, error = "failed", None, INTERNAL
        finally:
            keeper.cancel()
        ended = await self.store.end_job(job.id, status, result, error, time.time())
        await self._drop_input(ended)
        await self.ended(ended)

    async def _keep_finishing(self, job_id: str) -> None:
        lease = self.settings.batch_lease_s
        while True:
            await asyncio.sleep(lease / 3)
            with contextlib.suppress(Exception):
                await self.store.keep_lease(job_id, time.time() + lease)

    async def _drop_input(self, job: JobRow | None) -> None:
        """An ended job's own copy of its input is personal data it needs no more."""
        if job is not None and job.source.get("owned"):
            await self.runner.blobs.delete(job.source["blob"])
