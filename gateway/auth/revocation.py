"""Revocation reaches every replica within a second: the replica or CLI that revokes a key
publishes its prefix on a Redis channel, and every gateway process drops that key from its
``KeyCache`` when the message arrives (milliseconds). Redis pub/sub delivers only to those
listening right then, so a listener that (re)connects clears its whole cache, and the cache's
own TTL (at most 1 s) stays the fallback when Redis is down or absent.

    await publish_revocation(client, record.prefix)                 # after the store revoked
    task = asyncio.create_task(listen_for_revocations(url, cache.invalidate))
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["CHANNEL", "listen_for_revocations", "publish_revocation"]

CHANNEL = "gateway:keys:revoked"
log = logging.getLogger("gateway.keys")


async def publish_revocation(client: aioredis.Redis, prefix: str) -> int:
    """Announce a revoked key; how many gateway processes heard it."""
    return int(await client.publish(CHANNEL, prefix))


async def listen_for_revocations(
    url: str,
    forget: Callable[[str | None], object],
    *,
    connect_timeout_s: float = 1.0,
    ready: asyncio.Event | None = None,
) -> None:
    """Run until cancelled: ``forget(prefix)`` for each announcement, ``forget(None)`` after
    each (re)subscription. Reconnects with a growing pause (0.2 s to 5 s) while Redis is down."""
    pause = 0.2
    while True:
        client = aioredis.Redis.from_url(url, socket_connect_timeout=connect_timeout_s)
        try:
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(CHANNEL)
                forget(None)  # whatever was announced while we were not listening
                pause = 0.2
                if ready is not None:
                    ready.set()
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is not None and message.get("type") == "message":
                        data = message["data"]
                        forget(data.decode() if isinstance(data, bytes) else str(data))
        except (RedisError, OSError) as exc:
            log.warning("revocation channel lost (%s); reconnecting", type(exc).__name__)
        finally:
            await client.aclose()
        await asyncio.sleep(pause)
        pause = min(pause * 2, 5.0)
