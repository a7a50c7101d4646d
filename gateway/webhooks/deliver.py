"""The delivery loop: queued events POSTed to their receivers, retried with backoff.

``WebhookDeliverer.run()`` is a lifespan task of every gateway process (like the Batch API's
claim loop). Every ``GATEWAY_BATCH_POLL_S`` (at once when an event is queued in this process,
and when an attempt ends) it leases due deliveries (at most ``MAX_IN_FLIGHT`` at once) and, for
each attempt:

* picks the secret: the key's own, else ``GATEWAY_WEBHOOK_SECRET``; neither (the setting was
  removed since): the delivery is dropped;
* checks the URL again (``targets.check_target``: DNS may have changed) and POSTs the body,
  signed afresh with the current timestamp (same ``webhook-id`` on every attempt), to the
  checked address, with no redirects followed, within ``GATEWAY_WEBHOOK_TIMEOUT_S``;
* a 2xx ends it; anything else (non-2xx, 3xx included, timeout, connection error, refused
  address) is put back for ``GATEWAY_WEBHOOK_BACKOFF_S`` × 2^(attempt−1) (at most an hour),
  until ``GATEWAY_WEBHOOK_MAX_ATTEMPTS`` attempts, after which it is ``failed``.

A lease outlasts one attempt (twice the timeout, plus 5 s), so a gateway killed mid-attempt
leaves a lease that lapses soon and the next claim sends the event again (at-least-once:
receivers dedupe on ``webhook-id``). Once a minute it drops the waiting deliveries of revoked
keys (never claimed anyway) and deletes ended rows past ``GATEWAY_FILES_TTL_S``; every round
sets the ``kind="webhook"`` gauges.
Nothing of an event beyond its type and ids is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import anyio
import httpx

from ..metrics import GatewayMetrics
from ..settings import Settings
from .signing import signed_headers
from .store import Delivery, WebhookStore
from .targets import TargetRefused, check_target

__all__ = [
    "BACKOFF_CAP_S",
    "MAX_IN_FLIGHT",
    "SWEEP_EVERY_S",
    "WebhookDeliverer",
    "make_webhook_client",
]

log = logging.getLogger("gateway.webhooks")

BACKOFF_CAP_S = 3600.0
MAX_IN_FLIGHT = 8
"""Deliveries in flight at once from one gateway process."""
SWEEP_EVERY_S = 60.0


def make_webhook_client(settings: Settings) -> httpx.AsyncClient:
    """The client for deliveries: no redirects, no env proxies, no keep-alive (a connection
    opened for one host name is never reused for another)."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(settings.webhook_timeout_s),
        limits=httpx.Limits(max_connections=MAX_IN_FLIGHT * 2, max_keepalive_connections=0),
        headers={"user-agent": "vision-gateway-webhooks/1"},
    )


class WebhookDeliverer:
    """Sends the webhook queue of one gateway process (see the module docstring)."""

    def __init__(
        self,
        store: WebhookStore,
        client: httpx.AsyncClient,
        settings: Settings,
        metrics: GatewayMetrics,
    ) -> None:
        self.store = store
        self.client = client
        self.settings = settings
        self.metrics = metrics
        self.running: set[asyncio.Task[None]] = set()
        self.wake = asyncio.Event()
        self._last_sweep = 0.0

    @property
    def lease_s(self) -> float:
        return 2 * self.settings.webhook_timeout_s + 5.0

    def poke(self) -> None:
        """An event was queued here: look now."""
        self.wake.set()

    async def run(self) -> None:
        """Forever (until cancelled): claim, send, keep the queue tidy."""
        try:
            while True:
                try:
                    await self.round()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database is busy or gone: try again later
                    log.warning("webhook round failed: %s", type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.settings.batch_poll_s)
                self.wake.clear()
        finally:
            for task in self.running:
                task.cancel()
            await asyncio.gather(*self.running, return_exceptions=True)

    async def round(self) -> None:
        """Start what is due (as many as there are free slots); tidy up once a minute."""
        now = time.time()
        if now - self._last_sweep >= SWEEP_EVERY_S:
            self._last_sweep = now
            await self.store.drop_inactive(now)
            await self.store.sweep(now - self.settings.files_ttl_s)
        free = MAX_IN_FLIGHT - len(self.running)
        if free > 0:
            for delivery in await self.store.claim(now, self.lease_s, free):
                task = asyncio.create_task(self.attempt(delivery))
                self.running.add(task)
                task.add_done_callback(self._done)
        depth, oldest = await self.store.queue_stats(time.time())
        self.metrics.queue_depth.labels(kind="webhook").set(depth)
        self.metrics.queue_oldest_age.labels(kind="webhook").set(oldest)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.running.discard(task)
        self.wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook delivery task failed: %s", type(task.exception()).__name__)

    def secret_for(self, delivery: Delivery) -> str | None:
        if delivery.key_secret:
            return delivery.key_secret
        configured = self.settings.webhook_secret
        return configured.get_secret_value() if configured is not None else None

    async def attempt(self, delivery: Delivery) -> None:
        """One attempt at one delivery, and its outcome written under its lease."""
        secret = self.secret_for(delivery)
        if secret is None:
            await self.store.give_up(delivery, time.time(), "no_secret", state="dropped")
            log.warning("webhook %s dropped: no secret signs it", delivery.id)
            return
        error = await self._send(delivery, secret)
        now = time.time()
        if error is None:
            await self.store.delivered(delivery, now)
            return
        if delivery.attempts >= self.settings.webhook_max_attempts:
            await self.store.give_up(delivery, now, error)
            log.warning(
                "webhook %s (%s) failed after %d attempts: %s",
                delivery.id,
                delivery.event_type,
                delivery.attempts,
                error,
            )
            return
        await self.store.retry_later(delivery, now + self.backoff(delivery.attempts), error)

    def backoff(self, attempts: int) -> float:
        """The wait after the ``attempts``-th failed attempt."""
        return float(min(self.settings.webhook_backoff_s * 2 ** (attempts - 1), BACKOFF_CAP_S))

    async def _send(self, delivery: Delivery, secret: str) -> str | None:
        """None if the receiver answered 2xx, else why not (short, no content)."""
        try:
            with anyio.fail_after(self.settings.webhook_timeout_s):
                target = await check_target(delivery.url, self.settings)
                headers = signed_headers(secret, delivery.id, delivery.body, now=time.time())
                headers.update({"host": target.host, "content-type": "application/json"})
                extensions = {"sni_hostname": target.sni} if target.url.scheme == "https" else {}
                request = self.client.build_request(
                    "POST",
                    target.url,
                    content=delivery.body.encode(),
                    headers=headers,
                    extensions=extensions,
                )
                response = await self.client.send(request, stream=True)
                await response.aclose()
        except TargetRefused as exc:
            return f"refused: {exc}"
        except TimeoutError:
            return "timeout"
        except httpx.HTTPError as exc:
            return f"connection: {type(exc).__name__}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"
