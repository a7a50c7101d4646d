"""Per-key request-rate (rpm) and concurrency limits, kept in memory.

The limits are **per process**: with ``--workers 4`` or several gateway replicas, a key with
``rpm=60`` may get up to 60 requests a minute from each process. For one global budget, set
``GATEWAY_REDIS_URL``: ``shared_limits.RedisLimiter`` keeps the same limits in Redis for every
worker and replica. Counting in memory keeps the hot path free of database writes.

A limit is ``None`` (unlimited) or at least 1: a limit of 0 is a programming error (the key
stores refuse it when a key is made), so both limiters raise ``ValueError`` for it rather than
read it as "refuse everything" (here) or "unlimited" (a Lua script's 0).

    limiter = KeyLimiter()
    limiter.check_rate("alice", rpm=60)           # raises GatewayError(429) when over
    lease = limiter.acquire("alice", limit=2)     # raises GatewayError(429) when 2 in flight
    ...
    lease.release()                                # idempotent; wakes limiter.vacancies
"""

from __future__ import annotations

import math
import time
from collections import deque

from ..errors import ErrorCode, GatewayError
from ..leases import NO_LEASE, Lease, Vacancies

__all__ = [
    "KeyLimiter",
    "WINDOW_S",
    "check_limit",
    "concurrency_exceeded",
    "rate_exceeded",
]

WINDOW_S = 60.0
"""The rpm window, in seconds (a limiter may be given a shorter one, for tests)."""


def check_limit(what: str, value: int | None) -> None:
    """Refuse a limit that is neither None (unlimited) nor at least 1.

    >>> check_limit("rpm", 0)
    Traceback (most recent call last):
    ...
    ValueError: rpm must be None (unlimited) or at least 1, not 0
    """
    if value is not None and value < 1:
        raise ValueError(f"{what} must be None (unlimited) or at least 1, not {value}")


def rate_exceeded(rpm: int, retry_after_s: int) -> GatewayError:
    """The 429 for a key over its requests per minute (here and in ``shared_limits``)."""
    return GatewayError(
        429,
        f"rate limit of {rpm} requests per minute exceeded for this key",
        type="rate_limit_error",
        code=ErrorCode.RATE_LIMIT_EXCEEDED,
        headers={"Retry-After": str(retry_after_s)},
    )


def concurrency_exceeded(limit: int) -> GatewayError:
    """The 429 for a key with ``limit`` requests already in flight."""
    return GatewayError(
        429,
        f"concurrency limit of {limit} requests in flight exceeded for this key",
        type="rate_limit_error",
        code=ErrorCode.CONCURRENCY_LIMIT_EXCEEDED,
        headers={"Retry-After": "1"},
    )


class KeyLimiter:
    """Sliding-window rpm (exact, a deque of timestamps) and an in-flight counter per key.
    ``vacancies`` is woken each time a slot is given back (``callslots.CallSlots`` waits on
    it)."""

    def __init__(self, *, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self.vacancies = Vacancies()
        self._hits: dict[str, deque[float]] = {}
        self._inflight: dict[str, int] = {}

    def check_rate(self, name: str, rpm: int | None, now: float | None = None) -> None:
        """Count one request against ``rpm`` in the last ``window_s`` (60 s), or raise 429 with
        Retry-After."""
        if rpm is None:
            return
        check_limit("rpm", rpm)
        window = self.window_s
        now = time.monotonic() if now is None else now
        hits = self._hits.get(name)
        if hits is None:
            hits = self._hits[name] = deque()
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= rpm:
            raise rate_exceeded(rpm, max(1, math.ceil(hits[0] + window - now)))
        hits.append(now)

    def acquire(self, name: str, limit: int | None) -> Lease:
        """Take an in-flight slot, or raise 429 when ``limit`` requests are already running."""
        if limit is None:
            return NO_LEASE
        check_limit("max_concurrent", limit)
        current = self._inflight.get(name, 0)
        if current >= limit:
            raise concurrency_exceeded(limit)
        self._inflight[name] = current + 1
        return Lease(lambda: self._release(name))

    def _release(self, name: str) -> None:
        left = self._inflight.get(name, 0) - 1
        if left > 0:
            self._inflight[name] = left
        else:
            self._inflight.pop(name, None)
        self.vacancies.vacated(name)

    def in_flight(self, name: str) -> int:
        """Slots of ``name`` taken now."""
        return self._inflight.get(name, 0)
