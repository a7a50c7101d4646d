"""Per-key rpm and concurrency limits shared by every worker and replica, kept in Redis
(or Valkey) when ``GATEWAY_REDIS_URL`` is set.

Admission is one Lua script (``admit``: both checks), so it is atomic on the server and costs
one round trip; it uses the server's clock (``TIME``), so replicas with skewed clocks still
agree. A key's two sorted sets share a hash tag (``gateway:{name}:rpm``, ``…:conc``), so the
script also runs on Redis Cluster.

* **rpm**: a sliding 60 s window (``window_s``), exact like the in-process ``KeyLimiter``: a
  sorted set of request times per key; over the limit the answer carries when the oldest one
  leaves.
* **concurrency**: a sorted set of *leases* per key, scored by their expiry. Taking a slot
  drops expired leases first, so a gateway that crashed mid-request (and never released) frees
  its slots after ``lease_ttl_s``. Live requests keep theirs: one task per process refreshes
  every open lease each ``lease_ttl_s / 3``. A refresh that finds a lease already gone (this
  process stalled longer than ``lease_ttl_s``) reports it: a warning line and
  ``gateway_limiter_lapsed_leases_total``; that request runs on, uncounted.
* A released lease leaves Redis with the key's next admission or within ``RELEASE_DELAY_S``;
  if Redis fails then, its id is kept and removed by a later admission, release or refresh.
* A limit is None (unlimited) or at least 1; 0 raises ``ValueError`` here as in-process, and
  the script refuses it too (its "no limit" is -1).

When Redis cannot be reached, ``fail_mode`` decides: ``open`` (the default, because keys are
still checked against the key store) admits the request, ``closed`` answers 503. Either way a
warning is logged (at most every 10 s) and ``gateway_limiter_errors_total`` counts it.

    limiter = RedisLimiter(redis.asyncio.Redis.from_url(url), metrics)
    lease = await limiter.admit("alice", rpm=60, limit=2)   # GatewayError(429), Retry-After
    lease.release()              # a leases.Lease: idempotent; the ZREM runs in the background
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Iterable
from itertools import count
from typing import Any, Literal

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..errors import ErrorCode, GatewayError
from ..leases import NO_LEASE, Lease, Vacancies
from .limits import WINDOW_S, check_limit, concurrency_exceeded, rate_exceeded

__all__ = ["RedisLimiter", "FailMode", "RELEASE_DELAY_S"]

log = logging.getLogger("gateway.limits")

FailMode = Literal["open", "closed"]

_NOW_MS = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "

# Admission: both checks in one round trip, in the in-process order (a request refused for
# concurrency still counts against rpm); either check alone when the other limit is -1.
# KEYS rpm zset, lease zset; ARGV rpm (-1: none), window ms, member, limit (-1: none), lease
# ttl ms, lease id, then ids of this key's released leases to remove first (piggybacked: a
# request after a release costs one round trip, not two). -> {1, 0} admitted, {0, ms} over
# rpm, {-1, 0} full. A limit of 0 is an error, as in-process (the caller refuses it first).
_ADMIT = (
    _NOW_MS
    + """
local rpm, limit = tonumber(ARGV[1]), tonumber(ARGV[4])
if rpm == 0 or limit == 0 then return redis.error_reply('a limit of 0: use -1 for none') end
for i = 7, #ARGV do redis.call('ZREM', KEYS[2], ARGV[i]) end
if rpm > 0 then
  local window = tonumber(ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  if redis.call('ZCARD', KEYS[1]) >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {0, tonumber(oldest[2]) + window - now}
  end
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
end
if limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= limit then return {-1, 0} end
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[6])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
return {1, 0}
"""
)

# KEYS[1] lease zset; ARGV ttl ms, lease ids... -> the ids that had lapsed: already expired
# (and maybe dropped by an admission). They are not brought back (their slot may be someone
# else's now): the request keeps running, uncounted, and the caller reports it.
_REFRESH = (
    _NOW_MS
    + """
local lapsed = {}
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) > now then
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
  else
    if score then redis.call('ZREM', KEYS[1], ARGV[i]) end
    lapsed[#lapsed + 1] = ARGV[i]
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return lapsed
"""
)

_WARN_EVERY_S = 10.0
RELEASE_DELAY_S = 0.02
"""A released slot is free for this process at once, for other processes within this long."""


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
        window_s: float = WINDOW_S,
    ) -> None:
        self.client = client
        self.metrics = metrics
        self.fail_mode: FailMode = fail_mode
        self.lease_ttl_ms = max(1, int(lease_ttl_s * 1000))
        self.window_ms = max(1, int(window_s * 1000))
        self.prefix = prefix
        self.vacancies = Vacancies()
        """Woken when this process gives back a slot of a key (``callslots`` waits on it)."""
        self._admit = client.register_script(_ADMIT)
        self._refresh = client.register_script(_REFRESH)
        self._open: dict[str, set[str]] = {}
        """Open leases by key *name*; released ones wait in ``_released`` until Redis has
        dropped them."""
        self._released: dict[str, list[str]] = {}
        self._flush: asyncio.TimerHandle | None = None
        self._flushes: set[asyncio.Task[None]] = set()
        self._ids = count()
        self._tag = f"{os.uname().nodename}:{os.getpid()}:{time.time_ns()}:"
        self._warned_at = -math.inf

    async def admit(self, name: str, rpm: int | None, limit: int | None) -> Lease:
        """``check_rate`` and ``acquire`` in one script: one round trip per request."""
        if rpm is None and limit is None:
            return NO_LEASE
        check_limit("rpm", rpm)
        check_limit("max_concurrent", limit)
        lease_id = self._tag + str(next(self._ids))
        released = tuple(self._released.get(name, ()))
        try:
            admitted, wait_ms = await self._admit(
                keys=[f"{self.prefix}{{{name}}}:rpm", self._conc(name)],
                args=[
                    -1 if rpm is None else rpm,
                    self.window_ms,
                    lease_id,
                    -1 if limit is None else limit,
                    self.lease_ttl_ms,
                    lease_id,
                    *released,
                ],
            )
        except RedisError as exc:
            self._unreachable(exc)  # the released ids stay queued for a later try
            return NO_LEASE
        if released:
            self._forget_released(name, released)
        if admitted == 0:
            raise rate_exceeded(rpm or 0, max(1, math.ceil(int(wait_ms) / 1000)))
        if admitted == -1:
            raise concurrency_exceeded(limit or 0)
        return self._hold(name, lease_id) if limit is not None else NO_LEASE

    async def check_rate(self, name: str, rpm: int | None) -> None:
        """Count one request against ``rpm`` in the last ``window_s`` (60 s), or raise 429
        with Retry-After."""
        await self.admit(name, rpm, None)

    async def acquire(self, name: str, limit: int | None) -> Lease:
        """Take an in-flight slot, or raise 429 when ``limit`` requests are already running."""
        return await self.admit(name, None, limit)

    def _conc(self, name: str) -> str:
        return f"{self.prefix}{{{name}}}:conc"

    def _hold(self, name: str, lease_id: str) -> Lease:
        self._open.setdefault(name, set()).add(lease_id)
        return Lease(lambda: self._release(name, lease_id))

    def open_leases(self) -> int:
        return sum(len(leases) for leases in self._open.values())

    def pending_releases(self) -> int:
        """Released leases not yet known to be gone from Redis."""
        return sum(len(ids) for ids in self._released.values())

    async def refresh(self) -> None:
        """Push every open lease's expiry ``lease_ttl_s`` ahead (one script per key), report
        the ones that had lapsed, and retry removing released leases a Redis error kept."""
        if self._released and self._flush is None:
            self._start_flush()
        if not self._open:
            return
        sent = [(name, list(leases)) for name, leases in self._open.items()]
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for name, leases in sent:
                    await self._refresh(
                        keys=[self._conc(name)], args=[self.lease_ttl_ms, *leases], client=pipe
                    )
                answers = await pipe.execute()
        except RedisError as exc:
            self._unreachable(exc, closed_refuses=False)
            return
        for (name, _), lapsed in zip(sent, answers, strict=True):
            if lapsed:
                self._lapsed(name, [i.decode() if isinstance(i, bytes) else str(i) for i in lapsed])

    def _lapsed(self, name: str, lease_ids: list[str]) -> None:
        """Leases Redis no longer counted when their refresh came. Those still open (not
        released meanwhile) are reported once and no longer refreshed."""
        leases = self._open.get(name)
        if leases is None:
            return
        gone = [i for i in lease_ids if i in leases]
        if not gone:
            return
        leases.difference_update(gone)
        if not leases:
            del self._open[name]
        if self.metrics is not None:
            self.metrics.limiter_lapsed_leases.inc(len(gone))
        log.warning(
            "%d concurrency lease(s) of key %r lapsed before their refresh (this process"
            " stalled longer than the lease TTL of %d ms, or Redis lost them); those requests"
            " run on uncounted",
            len(gone),
            name,
            self.lease_ttl_ms,
        )

    async def keep_leases_alive(self) -> None:
        """Run for the life of the app (a lifespan task): refresh each ``lease_ttl_s / 3``."""
        period = self.lease_ttl_ms / 3000
        while True:
            await asyncio.sleep(period)
            await self.refresh()

    def _release(self, name: str, lease_id: str) -> None:
        """Forget the lease here at once; remove it in Redis with the next admission of the
        same key, or within ``RELEASE_DELAY_S`` in one pipeline with every other release."""
        leases = self._open.get(name)
        if leases is not None:
            leases.discard(lease_id)
            if not leases:
                del self._open[name]
        self._released.setdefault(name, []).append(lease_id)
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(RELEASE_DELAY_S, self._start_flush)
        self.vacancies.vacated(name)

    def _forget_released(self, name: str, removed: Iterable[str]) -> None:
        """Redis has dropped ``removed``: stop sending them (others may have queued since)."""
        pending = self._released.get(name)
        if pending is None:
            return
        done = set(removed)
        left = [i for i in pending if i not in done]
        if left:
            self._released[name] = left
        else:
            del self._released[name]

    def _start_flush(self) -> None:
        self._flush = None
        if self._released:
            task = asyncio.get_running_loop().create_task(self._remove_released())
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def _remove_released(self) -> None:
        batch = {name: list(ids) for name, ids in self._released.items()}
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for name, lease_ids in batch.items():
                    pipe.zrem(self._conc(name), *lease_ids)
                await pipe.execute()
        except RedisError as exc:  # kept: the next admission, release or refresh retries
            self._unreachable(exc, closed_refuses=False)
            return
        for name, lease_ids in batch.items():
            self._forget_released(name, lease_ids)

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
