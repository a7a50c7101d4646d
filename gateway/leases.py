"""``Lease``: a counted slot that is given back exactly once, however the request ends.

Two counts need that guarantee: a key's requests in flight (its concurrency limit) and a
replica's requests in flight (least-loaded routing). A request can end in many ways (answered,
streamed to the end, client gone mid-stream, upstream broken, cancelled), and several of them
may try to give the slot back; the first ``release`` counts, the others do nothing.

    replica.in_flight += 1
    lease = Lease(replica.leave)
    ...
    lease.release()          # idempotent

A task that must wait for a slot (rather than be refused) waits on ``Vacancies``: the holder
of the counter calls ``vacated(name)`` whenever a slot of ``name`` is given back.

    freed = vacancies.watch("alice")          # before trying, so no give-back is missed
    ... try to take a slot; if none:
    await vacancies.wait(freed, timeout=0.05)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Lease", "NO_LEASE", "Vacancies"]


class Lease:
    """Calls ``give_back`` on the first ``release`` and never again."""

    __slots__ = ("_give_back",)

    def __init__(self, give_back: Callable[[], None] | None) -> None:
        self._give_back = give_back

    @property
    def held(self) -> bool:
        return self._give_back is not None

    def release(self) -> None:
        give_back, self._give_back = self._give_back, None
        if give_back is not None:
            give_back()


NO_LEASE = Lease(None)
"""For a request that holds nothing (a key without a concurrency limit)."""


class Vacancies:
    """Per name, wakes the tasks waiting for a slot of that name to be given back.

    Only names someone waits for hold an event, and ``vacated`` drops it, so the cost on the
    hot path (a release nobody waits for) is one dict lookup."""

    __slots__ = ("_events",)

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def watch(self, name: str) -> asyncio.Event:
        """The event the next ``vacated(name)`` sets. Take it *before* trying for a slot: a
        slot given back while the try is in flight then still wakes the waiter."""
        event = self._events.get(name)
        if event is None:
            event = self._events[name] = asyncio.Event()
        return event

    def vacated(self, name: str) -> None:
        event = self._events.pop(name, None)
        if event is not None:
            event.set()

    @staticmethod
    async def wait(event: asyncio.Event, timeout: float) -> None:
        """Until ``event`` is set or ``timeout`` seconds have passed, whichever comes first."""
        if event.is_set():
            return
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            pass
