"""Builds what ``admit`` needs for one app from the settings, and runs its background tasks.

* the key store: SQLite, or PostgreSQL when ``keys_db`` is a ``postgresql://`` URL (its pool
  opens and its migrations run in the lifespan, ``keys_migrate_on_start``);
* the limiter: in-process, or ``RedisLimiter`` when ``redis_url`` is set, with its lease
  refresher and the revocation listener that empties the key cache on every replica.

    access = build_access(settings, metrics)
    app.state.keys, app.state.auth = access.keys, access.auth
    async with run_access(access, settings): ...          # in the lifespan
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from ..settings import Settings
from .admission import Authenticator, LocalLimiter
from .cache import KeyCache
from .revocation import listen_for_revocations
from .shared_limits import RedisLimiter
from .store import KeyBackend, KeyStoreUnavailable, is_postgres_url, open_key_store

__all__ = ["Access", "build_access", "redis_client", "run_access"]

log = logging.getLogger("gateway.keys")


@dataclass
class Access:
    keys: KeyBackend
    cache: KeyCache
    auth: Authenticator
    redis: aioredis.Redis | None = None


def redis_client(settings: Settings) -> aioredis.Redis | None:
    """A pooled client for ``redis_url`` with the configured timeouts, or None."""
    if settings.redis_url is None:
        return None
    return aioredis.Redis.from_url(
        settings.redis_url.get_secret_value(),
        socket_connect_timeout=settings.redis_timeout_s,
        socket_timeout=settings.redis_timeout_s,
    )


def build_access(settings: Settings, metrics: Any) -> Access:
    keys = open_key_store(
        settings.keys_db,
        pool_size=settings.keys_db_pool_size,
        timeout_s=settings.keys_db_timeout_s,
    )
    cache = KeyCache(keys, settings.key_cache_ttl_s, settings.key_cache_stale_s, metrics)
    client = redis_client(settings)
    if client is None:
        return Access(keys, cache, Authenticator(cache, LocalLimiter()))
    limiter = RedisLimiter(
        client,
        metrics,
        fail_mode=settings.limits_fail_mode,
        lease_ttl_s=settings.limit_lease_ttl_s,
    )
    return Access(keys, cache, Authenticator(cache, limiter), client)


@asynccontextmanager
async def run_access(access: Access, settings: Settings) -> AsyncIterator[None]:
    """Migrate (PostgreSQL, if asked), then keep leases and the revocation channel alive."""
    if is_postgres_url(settings.keys_db) and settings.keys_migrate_on_start:
        try:
            await access.keys.migrate()
        except KeyStoreUnavailable as exc:  # serve checked at start; this is a later outage
            log.warning("key store migration skipped: %s", exc)
    tasks: list[asyncio.Task[None]] = []
    limiter = access.auth.limiter
    if isinstance(limiter, RedisLimiter) and settings.redis_url is not None:
        tasks.append(asyncio.create_task(limiter.keep_leases_alive()))
        tasks.append(
            asyncio.create_task(
                listen_for_revocations(
                    settings.redis_url.get_secret_value(),
                    access.cache.invalidate,
                    connect_timeout_s=settings.redis_timeout_s,
                )
            )
        )
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if access.redis is not None:
            await access.redis.aclose()
        await access.keys.close()
