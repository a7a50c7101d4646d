"""``CallSlots``: a key's ``max_concurrent`` bounds its calls in flight to the engine, not only
its API requests.

Admission takes one in-flight slot per API request (``admission.admit``; over the limit it
answers 429). One request may then need many engine calls: several schemas, many pages. Each
engine call goes through ``async with slots.call():``, which keeps the key's count of calls in
flight at or under its limit, across its requests, schemas and pages, with the in-process
limiter and with Redis alike (both count in the same per-key counter as admission, so other
requests of the key see these calls and are refused while they run).

The rule that keeps this from deadlocking: a request's admission slot is its first call slot;
a further call of the same request waits (it is not refused) for an extra slot, taken from
the limiter one at a time and given back as soon as its call ends. A waiting call holds
nothing, and every admitted request can always run one call on its own slot, so every request
makes progress. rpm is not touched: it counts API requests, not engine calls.

    slots = call_slots(request)                  # what ``admit`` left for this request
    async with slots.call():                     # the first call runs on the admission slot,
        answer = await upstream.complete_json(…) # a second concurrent one waits for a slot

    # without an HTTP request (a batch worker): no admission slot, each call waits for one
    slots = CallSlots.background(app.state.auth.limiter, key.name, key.max_concurrent)

Calls nest: a call inside another call of the same task runs on the outer one's slot.

A waiting call retries when a slot of its key is given back in this process
(``Vacancies``), and otherwise every ``MIN_WAIT_S``, doubling up to ``MAX_WAIT_S`` (with
Redis, slots given back by other replicas are only seen by retrying).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from ..errors import ErrorCode, GatewayError
from ..leases import Lease

if TYPE_CHECKING:
    from .admission import Limiter

__all__ = [
    "CallSlots",
    "MAX_WAIT_S",
    "MIN_WAIT_S",
    "SCOPE_KEY",
    "UNLIMITED",
    "call_slots",
    "slots_for",
]

SCOPE_KEY = "gateway.call_slots"
"""Where ``admit`` leaves a request's ``CallSlots`` in the ASGI scope."""

MIN_WAIT_S = 0.005
MAX_WAIT_S = 0.2
"""A waiting call retries at least this often (in-process, a give-back wakes it at once)."""


class CallSlots:
    """The engine-call slots of one request (or one background job) of one key."""

    __slots__ = ("limiter", "name", "limit", "_first", "_first_busy", "_holders")

    def __init__(
        self,
        limiter: Limiter | None,
        name: str,
        limit: int | None,
        *,
        admission: Lease | None = None,
    ) -> None:
        """``admission``: the request's admitted slot, the first call slot (None: no slot of
        its own; a background job). With ``limit`` None (or no limiter) calls are not
        counted."""
        self.limiter = limiter
        self.name = name
        self.limit = limit if limiter is not None else None
        self._first = admission is not None
        self._first_busy = False
        self._holders: set[asyncio.Task[object] | None] = set()

    @classmethod
    def background(cls, limiter: Limiter, name: str, limit: int | None) -> CallSlots:
        """Slots for work that has no admitted request (batch workers): every call waits for
        a slot of the key's own; nothing is held between calls."""
        return cls(limiter, name, limit)

    @asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        """Hold one call slot of the key for the body: the request's admission slot if no
        other call of it has that now, else an extra one, waited for (never refused).

        Re-entrant within one task: a call nested in another of the same task (a helper
        that wraps its own call) runs on the outer one's slot, since a task cannot have two
        calls in flight at once; waiting there for a second slot could deadlock. Tasks
        started inside a call (``gather``) take slots of their own.

        Raises what the limiter raises other than "full": with Redis down and
        ``GATEWAY_LIMITS_FAIL_MODE=closed``, the 503 ``limiter_unavailable``."""
        task = asyncio.current_task()
        if self.limit is None or task in self._holders:
            yield
            return
        lease = await self._take()
        self._holders.add(task)
        try:
            yield
        finally:
            self._holders.discard(task)
            self._give_back(lease)

    async def _take(self) -> Lease | None:
        """None: the admission slot; else an extra lease from the limiter."""
        limiter = self.limiter
        assert limiter is not None
        wait = MIN_WAIT_S
        while True:
            if self._first and not self._first_busy:
                self._first_busy = True
                return None
            freed = limiter.vacancies.watch(self.name)
            try:
                return await limiter.acquire(self.name, self.limit)
            except GatewayError as exc:
                if exc.code != ErrorCode.CONCURRENCY_LIMIT_EXCEEDED:
                    raise
            await limiter.vacancies.wait(freed, wait)
            wait = min(wait * 2, MAX_WAIT_S)

    def _give_back(self, lease: Lease | None) -> None:
        if lease is not None:
            lease.release()  # the limiter wakes this key's waiters
            return
        self._first_busy = False
        assert self.limiter is not None
        self.limiter.vacancies.vacated(self.name)  # a call of this request may take it now


UNLIMITED = CallSlots(None, "-", None)
"""Calls not counted: a key without ``max_concurrent``, or a route without admission."""


def call_slots(request: HTTPConnection) -> CallSlots:
    """The ``CallSlots`` that ``admit`` left for this request, or ``UNLIMITED`` when it was not
    admitted with a concurrency limit."""
    slots = request.scope.get(SCOPE_KEY)
    return slots if isinstance(slots, CallSlots) else UNLIMITED


def slots_for(limiter: Limiter, name: str, limit: int | None, admission: Lease) -> CallSlots:
    """The slots of a request admitted with ``admission`` (``admit`` calls this)."""
    if limit is None:
        return UNLIMITED
    return CallSlots(limiter, name, limit, admission=admission)
