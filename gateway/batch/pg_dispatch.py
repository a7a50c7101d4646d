"""Work units dispatched by procrastinate on PostgreSQL: what batch lines (``pg_queue``,
``pg_worker``) and extraction-job page ranges (``gateway.jobs.pg_store``, ``pg_worker``)
share.

The shape (``docs/batch.md``, "Several replicas"): a unit of work is a row of our own with
a lease and a token (the idempotency of its result); a procrastinate job per runnable unit,
deferred with ``procrastinate_defer_jobs_v1`` in the transaction that makes the unit
runnable, says which replica runs it and when (``FOR UPDATE SKIP LOCKED`` fetch,
``LISTEN``/``NOTIFY`` wake-up). The unit id is the job's ``lock`` (two jobs of one unit never
run at once) and ``queueing_lock`` (one queued job per unit at most). procrastinate does not
retry the jobs of a dead worker by itself: ``QueueDispatch.recover`` does, and defers a job
for any runnable unit left without one (``requeue_orphans``)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import procrastinate

from ..settings import Settings
from .pg_base import Conn

__all__ = ["QueueDispatch", "defer_orphans", "defer_sql", "procrastinate_app", "unqueued"]


def defer_sql(
    queue: str, task: str, table: str, alias: str, arg: str, where: str, order: str
) -> str:
    """SQL deferring one job per row ``alias`` of ``table`` matching ``where`` (due at
    ``%(due)s``, epoch seconds, or now when NULL), ``{arg: id}`` its argument, in ``order``
    (procrastinate runs them in that order); rows with a job queued already get none more."""
    return (
        "SELECT procrastinate_defer_jobs_v1(ARRAY(SELECT ROW("
        f"'{queue}', '{task}', 0, {alias}.id, {alias}.id,"
        f" jsonb_build_object('{arg}', {alias}.id),"
        " to_timestamp(%(due)s::float8))::procrastinate_job_to_defer_v1"
        f" FROM {table} {alias} WHERE {where} AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs"
        f" j WHERE j.queueing_lock = {alias}.id AND j.status = 'todo') ORDER BY {order}))"
    )


def unqueued(alias: str) -> str:
    """The unit ``alias`` has no job queued and none running."""
    return (
        "NOT EXISTS (SELECT 1 FROM procrastinate_jobs j"
        f"   WHERE j.queueing_lock = {alias}.id AND j.status = 'todo')"
        " AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j"
        f"   WHERE j.lock = {alias}.id AND j.status = 'doing')"
    )


async def defer_orphans(conn: Conn, lock: int, sql: str, args: dict[str, Any]) -> int:
    """Run ``sql`` (a ``defer_sql``) under the advisory lock ``lock``, one replica at a time;
    how many jobs it deferred (0 when another replica holds the lock)."""
    cur = await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (lock,))
    got = await cur.fetchone()
    if not got or not got[0]:
        return 0
    cur = await conn.execute(f"SELECT cardinality(({sql}))".encode(), args)
    row = await cur.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def procrastinate_app(url: str, pool_size: int = 4) -> procrastinate.App:
    """A procrastinate ``App`` on the key database (its own small pool: fetching, finishing
    and the ``LISTEN`` connection)."""
    connector = procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=max(3, pool_size))
    return procrastinate.App(connector=connector)


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class QueueDispatch:
    """One procrastinate queue of one kind of unit in a replica: its worker (``concurrency``
    = the replica's cap), stalled-job recovery and the orphan sweep, beside the kind's own
    loops (housekeeping)."""

    def __init__(
        self,
        url: str,
        queue: str,
        task: str,
        run_unit: Callable[..., Awaitable[None]],
        sweep: Callable[[float], Awaitable[int]],
        settings: Settings,
        capacity: int,
        log: logging.Logger,
    ) -> None:
        self.queue = queue
        self.settings = settings
        self.capacity = capacity
        self.sweep = sweep
        self.log = log
        self.app = procrastinate_app(url)
        self.app.task(name=task, queue=queue)(run_unit)

    async def run(self, *others: Callable[[], Awaitable[None]]) -> None:
        """Forever (until cancelled): the procrastinate worker, recovery, and ``others``."""
        while True:
            try:
                async with self.app.open_async():  # waits for a first connection
                    await asyncio.gather(
                        self._worker_loop(), self._recover_loop(), *(o() for o in others)
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is unreachable: try again
                if _cancelling():
                    return
                self.log.warning("%s queue unavailable: %s", self.queue, type(exc).__name__)
            if _cancelling():
                return
            await asyncio.sleep(self.settings.batch_poll_s)

    async def _worker_loop(self) -> None:
        """procrastinate's worker, started again if it stops (its database connection lost:
        it stops when a side task such as its ``LISTEN`` fails)."""
        lease = self.settings.batch_lease_s
        while True:
            try:
                await self.app.run_worker_async(
                    queues=[self.queue],
                    name=self.queue,
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
                self.log.warning("%s queue worker stopped: %s", self.queue, type(exc).__name__)
            if _cancelling():  # the worker ended because the gateway is stopping
                return
            await asyncio.sleep(self.settings.batch_poll_s)

    async def recover(self, now: float) -> tuple[int, int]:
        """Retry the jobs of dead workers on this queue and requeue runnable units without a
        job; how many of each."""
        manager: Any = self.app.job_manager
        stalled = list(
            await manager.get_stalled_jobs(
                queue=self.queue, seconds_since_heartbeat=self.settings.batch_lease_s
            )
        )
        for job in stalled:
            try:
                await manager.retry_job(job)
            except Exception as exc:  # retried meanwhile by another replica, or a job of the
                # unit already queued again (its queueing lock): the unit is not lost either way
                self.log.warning("%s stalled job not retried: %s", self.queue, type(exc).__name__)
        orphans = await self.sweep(now)
        if stalled or orphans:
            self.log.info(
                "%s units recovered: %d stalled jobs, %d requeued",
                self.queue,
                len(stalled),
                orphans,
            )
        return len(stalled), orphans

    async def _recover_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.batch_lease_s / 2)
            try:
                await self.recover(time.time())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is busy or gone: the next round retries
                self.log.warning("%s recovery failed: %s", self.queue, type(exc).__name__)
