"""Per-key request-rate (rpm) and concurrency limits, kept in memory.

The limits are **per process**: with ``--workers 4`` or several gateway replicas, a key with
``rpm=60`` may get up to 60 requests a minute from each process. A shared store (Redis, for
example) would be needed for one global budget; it is not built. Counting in memory keeps
the hot path free of database writes.

    limiter = KeyLimiter()
    limiter.check_rate("alice", rpm=60)           # raises GatewayError(429) when over
    lease = limiter.acquire("alice", limit=2)     # raises GatewayError(429) when 2 in flight
    ...
    lease.release()                                # idempotent
"""

from __future__ import annotations

import math
import time
from collections import deque

from ..errors import ErrorCode, GatewayError
from ..leases import NO_LEASE, Lease

__all__ = ["KeyLimiter", "WINDOW_S", "concurrency_exceeded", "rate_exceeded"]

WINDOW_S = 60.0


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
    """Sliding-window rpm (exact, a deque of timestamps) and an in-flight counter per key."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._inflight: dict[str, int] = {}

    def check_rate(self, name: str, rpm: int | None, now: float | None = None) -> None:
        """Count one request against ``rpm`` in the last 60 s, or raise 429 with Retry-After."""
        if rpm is None:
            return
        now = time.monotonic() if now is None else now
        hits = self._hits.get(name)
        if hits is None:
            hits = self._hits[name] = deque()
        while hits and hits[0] <= now - WINDOW_S:
            hits.popleft()
        if len(hits) >= rpm:
            raise rate_exceeded(rpm, max(1, math.ceil(hits[0] + WINDOW_S - now)))
        hits.append(now)

    def acquire(self, name: str, limit: int | None) -> Lease:
        """Take an in-flight slot, or raise 429 when ``limit`` requests are already running."""
        if limit is None:
            return NO_LEASE
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
