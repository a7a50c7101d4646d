"""The claim loop every queue of background work shares: batch lines (`gateway.batch`) and
job page ranges (`gateway.jobs`).

A worker leases as many units as it has free slots (its ``capacity``: the per-replica cap on
background engine calls), runs each in a task that renews the unit's lease every third of
``GATEWAY_BATCH_LEASE_S``, and naps until a task ends, new work is poked in, or the poll
interval passes. After an engine failure the subclass sets ``paused_until`` and no unit is
claimed before it, so an engine that is restarting is not hammered. What a unit *is*, how it
runs and what housekeeping a queue needs are the subclass's (``_work``,
``_housekeeping_loop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from .settings import Settings

__all__ = ["ClaimLoop", "LeasedQueue"]

U = TypeVar("U")


class LeasedQueue(Protocol[U]):
    """What the loop needs of a store: units claimed under a lease, and leases renewed."""

    async def claim(self, now: float, lease_s: float, limit: int) -> list[U]: ...

    async def renew(self, units: Sequence[U], until: float) -> None: ...


class ClaimLoop(Generic[U]):
    """Claims, runs and keeps leased the units of one queue in one gateway process."""

    def __init__(
        self,
        queue: LeasedQueue[U],
        settings: Settings,
        capacity: int,
        kind: str,
        log: logging.Logger,
    ) -> None:
        """``kind`` names the units in ``log``'s lines (``"batch line"``, ``"job unit"``)."""
        self.queue = queue
        self.settings = settings
        self.capacity = capacity
        self.kind = kind
        self.log = log
        self.running: set[asyncio.Task[None]] = set()
        self.wake = asyncio.Event()
        self.paused_until = 0.0
        self.engine_failures = 0

    async def run(self) -> None:
        """Forever (until cancelled): claim and run units, and the queue's housekeeping."""
        try:
            await asyncio.gather(self._claim_loop(), self._housekeeping_loop())
        finally:
            for task in self.running:
                task.cancel()
            await asyncio.gather(*self.running, return_exceptions=True)

    def poke(self) -> None:
        """New work may be there (created or cancelled in this process): look now."""
        self.wake.set()

    async def _work(self, unit: U) -> None:
        raise NotImplementedError

    async def _housekeeping_loop(self) -> None:
        raise NotImplementedError

    async def _nap(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), seconds)
        self.wake.clear()

    async def _claim_loop(self) -> None:
        settings = self.settings
        while True:
            now = time.time()
            free = self.capacity - len(self.running)
            units: list[U] = []
            if free > 0 and now >= self.paused_until:
                try:
                    units = await self.queue.claim(now, settings.batch_lease_s, free)
                except Exception as exc:  # the database is busy or gone: try again later
                    self.log.warning("%s claim failed: %s", self.kind, type(exc).__name__)
            for unit in units:
                task = asyncio.create_task(self._work(unit))
                self.running.add(task)
                task.add_done_callback(self._done)
            if not units or len(self.running) >= self.capacity:
                wait = settings.batch_poll_s
                if self.paused_until > now:
                    wait = min(wait, self.paused_until - now)
                await self._nap(wait)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.running.discard(task)
        self.wake.set()
        if not task.cancelled() and task.exception() is not None:
            self.log.error("%s task failed: %s", self.kind, type(task.exception()).__name__)

    async def _keep_lease(self, unit: U) -> None:
        every = self.settings.batch_lease_s / 3
        while True:
            await asyncio.sleep(every)
            try:
                await self.queue.renew([unit], time.time() + self.settings.batch_lease_s)
            except Exception as exc:  # busy database: the next renewal may succeed
                self.log.warning("%s lease renewal failed: %s", self.kind, type(exc).__name__)
