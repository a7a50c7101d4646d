"""Per-key rpm and concurrency limits shared by every worker and replica, kept in Redis
(or Valkey) when ``GATEWAY_REDIS_URL`` is set.

Each check is one Lua script, so it is atomic on the server and costs one round trip. Both use
the server's clock (``TIME``), so replicas with skewed clocks still agree.

* **rpm**: a sliding 60 s window, exact like the in-process ``KeyLimiter``: a sorted set of
  request times per key; over the limit the answer carries when the oldest one leaves.
* **concurrency**: a sorted set of *leases* per key, scored by their expiry. Taking a slot
  drops expired leases first, so a gateway that crashed mid-request (and never released) frees
  its slots after ``lease_ttl_s``. Live requests keep theirs: one task per process refreshes
  every open lease each ``lease_ttl_s / 3``.

When Redis cannot be reached, ``fail_mode`` decides: ``open`` (the default, because keys are
still checked against the key store) admits the request, ``closed`` answers 503. Either way a
warning is logged (at most every 10 s) and ``gateway_limiter_errors_total`` counts it.

    limiter = RedisLimiter(redis.asyncio.Redis.from_url(url), metrics)
    await limiter.check_rate("alice", 60)        # GatewayError(429) with Retry-After
    lease = await limiter.acquire("alice", 2)    # GatewayError(429) when 2 are running
    lease.release()              # a leases.Lease: idempotent; the ZREM runs in the background
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from itertools import count
from typing import Any, Literal

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..errors import ErrorCode, GatewayError
from ..leases import NO_LEASE, Lease
from .limits import WINDOW_S, concurrency_exceeded, rate_exceeded

__all__ = ["RedisLimiter", "FailMode"]

log = logging.getLogger("gateway.limits")

FailMode = Literal["open", "closed"]

_NOW_MS = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "

# KEYS[1] window zset; ARGV rpm, window ms, member. -> {admitted 0|1, ms until a slot frees}
_RATE = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + tonumber(ARGV[2]) - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, 0}
"""
)

# KEYS[1] lease zset; ARGV limit, ttl ms, lease id. -> 1 taken, 0 full
_ACQUIRE = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
)

# KEYS[1] lease zset; ARGV ttl ms, lease ids... -> leases still held (XX: a lease that already
# expired and was dropped is not brought back; its request keeps running, uncounted)
_REFRESH = (
    _NOW_MS
    + """
local held = 0
for i = 2, #ARGV do
  held = held + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return held
"""
)

_WARN_EVERY_S = 10.0


class RedisLimiter:
    """``check_rate`` and ``acquire`` against Redis; see the module docstring."""

    def __init__(
        self,
        client: aioredis.Redis,
        metrics: Any | None = None,
        *,
        fail_mode: FailMode = "open",
        lease_ttl_s: float = 10.0,
        prefix: str = "gateway:",
    ) -> None:
        self.client = client
        self.metrics = metrics
        self.fail_mode: FailMode = fail_mode
        self.lease_ttl_ms = max(1, int(lease_ttl_s * 1000))
        self.prefix = prefix
        self._rate = client.register_script(_RATE)
        self._acquire = client.register_script(_ACQUIRE)
        self._refresh = client.register_script(_REFRESH)
        self._open: dict[str, set[str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = count()
        self._tag = f"{os.uname().nodename}:{os.getpid()}:{time.time_ns()}:"
        self._warned_at = -math.inf

    async def check_rate(self, name: str, rpm: int | None) -> None:
        """Count one request against ``rpm`` in the last 60 s, or raise 429 with Retry-After."""
        if rpm is None:
            return
        member = self._tag + str(next(self._ids))
        window_ms = int(WINDOW_S * 1000)
        try:
            admitted, wait_ms = await self._rate(
                keys=[f"{self.prefix}rpm:{name}"], args=[rpm, window_ms, member]
            )
        except RedisError as exc:
            self._unreachable(exc)
            return
        if not admitted:
            raise rate_exceeded(rpm, max(1, math.ceil(int(wait_ms) / 1000)))

    async def acquire(self, name: str, limit: int | None) -> Lease:
        """Take an in-flight slot, or raise 429 when ``limit`` requests are already running."""
        if limit is None:
            return NO_LEASE
        key = f"{self.prefix}conc:{name}"
        lease_id = self._tag + str(next(self._ids))
        try:
            taken = await self._acquire(keys=[key], args=[limit, self.lease_ttl_ms, lease_id])
        except RedisError as exc:
            self._unreachable(exc)
            return NO_LEASE
        if not taken:
            raise concurrency_exceeded(limit)
        self._open.setdefault(key, set()).add(lease_id)
        return Lease(lambda: self._release(key, lease_id))

    def open_leases(self) -> int:
        return sum(len(leases) for leases in self._open.values())

    async def refresh(self) -> None:
        """Push every open lease's expiry ``lease_ttl_s`` ahead (one script per key)."""
        if not self._open:
            return
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for key, leases in list(self._open.items()):
                    await self._refresh(keys=[key], args=[self.lease_ttl_ms, *leases], client=pipe)
                await pipe.execute()
        except RedisError as exc:
            self._unreachable(exc, closed_refuses=False)

    async def keep_leases_alive(self) -> None:
        """Run for the life of the app (a lifespan task): refresh each ``lease_ttl_s / 3``."""
        period = self.lease_ttl_ms / 3000
        while True:
            await asyncio.sleep(period)
            await self.refresh()

    def _release(self, key: str, lease_id: str) -> None:
        leases = self._open.get(key)
        if leases is not None:
            leases.discard(lease_id)
            if not leases:
                del self._open[key]
        task = asyncio.get_running_loop().create_task(self._remove(key, lease_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _remove(self, key: str, lease_id: str) -> None:
        try:
            await self.client.zrem(key, lease_id)
        except RedisError as exc:  # the lease expires by itself
            self._unreachable(exc, closed_refuses=False)

    def _unreachable(self, exc: Exception, *, closed_refuses: bool = True) -> None:
        if self.metrics is not None:
            self.metrics.limiter_errors.inc()
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            log.warning(
                "Redis unreachable for rate limits (%s: %s); failing %s",
                type(exc).__name__,
                exc,
                self.fail_mode,
            )
        if closed_refuses and self.fail_mode == "closed":
            raise GatewayError(
                503,
                "rate limits cannot be checked right now (limiter unavailable); retry shortly",
                type="service_unavailable",
                code=ErrorCode.LIMITER_UNAVAILABLE,
                headers={"Retry-After": "1"},
            ) from exc
