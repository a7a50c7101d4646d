"""Background health checks of the vLLM replicas, run by the app's lifespan.

Every ``health_interval_s`` each replica's ``/health`` is polled (all at once, each within
``health_timeout_s``). ``health_failure_threshold`` failures in a row take a replica out of
rotation; one success brings it back. Requests themselves take a replica out faster: one that
cannot connect marks it down at once (see ``upstream.Upstream``).

    task = asyncio.create_task(poll_forever(upstream, settings))
    ...
    task.cancel()
"""

from __future__ import annotations

import asyncio
import logging

from ..settings import Settings
from .client import Upstream

__all__ = ["check_all", "poll_forever"]

logger = logging.getLogger("gateway.health")


async def check_all(upstream: Upstream, timeout: float, threshold: int) -> list[bool]:
    """Poll every replica once, record the results, and return them (in replica order)."""
    replicas = upstream.replicas.replicas
    results = await asyncio.gather(*(upstream.healthy(r, timeout) for r in replicas))
    for replica, (ok, detail) in zip(replicas, results, strict=True):
        upstream.replicas.record_health(replica, ok, detail, threshold)
    return [ok for ok, _ in results]


async def poll_forever(upstream: Upstream, settings: Settings) -> None:
    """``check_all`` every interval until cancelled. A round that fails unexpectedly is logged
    and the polling goes on: a bug here must not freeze the replicas' health for good."""
    while True:
        await asyncio.sleep(settings.health_interval_s)
        try:
            await check_all(upstream, settings.health_timeout_s, settings.health_failure_threshold)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep polling whatever happened
            logger.exception("health check round failed")
