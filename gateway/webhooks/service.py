"""``WebhookService``: what the routes, other background work and the lifespan hold of
webhooks in one app, and the two calls they make.

    await accept_webhook_url(request.app.state, key.prefix, body.webhook_url)   # at request
    await enqueue_event(request.app.state.webhooks, owner=key.prefix, url=url,
                        event_type="extraction.job.completed", object_id=job_id)  # at the end

Built in the lifespan (``open_webhook_service``) with the delivery loop as a task, on the key
store's database: ``SqliteWebhookStore`` in the SQLite file, ``PostgresWebhookStore`` in the
PostgreSQL database (every replica runs the loop; ``docs/webhooks.md``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio

from ..auth.store import is_postgres_url
from ..errors import ErrorCode, GatewayError
from ..settings import Settings
from .deliver import WebhookDeliverer, make_webhook_client
from .events import EVENT_TYPES
from .store import SqliteWebhookStore, WebhookStore
from .targets import TargetRefused, check_target, refusal_error

__all__ = ["WebhookService", "accept_webhook_url", "enqueue_event", "open_webhook_service"]


@dataclass
class WebhookService:
    store: WebhookStore
    deliverer: WebhookDeliverer
    settings: Settings

    async def can_sign(self, owner: str) -> bool:
        """Whether the key's events can be signed: its own secret or the global one."""
        if self.settings.webhook_secret is not None:
            return True
        return await self.store.key_secret(owner) is not None


async def accept_webhook_url(
    app_state: Any, owner: str, url: str | None, param: str = "webhook_url"
) -> str | None:
    """Check a request's ``webhook_url`` (None: it names none) before any work is queued:
    a 400 naming ``param`` when nothing can sign the key's events
    (``webhooks_not_configured``) or the URL fails the SSRF checks
    (``webhook_url_refused``). Returns the URL to store."""
    if url is None:
        return None
    service: WebhookService | None = getattr(app_state, "webhooks", None)
    if service is None or not await service.can_sign(owner):
        why = (
            "webhooks need a signing secret: set GATEWAY_WEBHOOK_SECRET, or give this key its"
            " own (python -m gateway keys webhook-secret)"
        )
        raise GatewayError(400, why, param=param, code=ErrorCode.WEBHOOKS_NOT_CONFIGURED)
    timeout = service.settings.webhook_timeout_s
    try:
        with anyio.fail_after(timeout):
            await check_target(url, service.settings)
    except TargetRefused as exc:
        raise refusal_error(str(exc), param) from None
    except TimeoutError:
        raise refusal_error(f"the host did not resolve within {timeout:g} s", param) from None
    return url


async def enqueue_event(
    service: WebhookService, *, owner: str, url: str, event_type: str, object_id: str
) -> str:
    """Queue one event for delivery (durably; the same ending queued twice is sent once);
    its ``webhook-id``. ``event_type`` is one of ``events.EVENT_TYPES``."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    webhook_id = await service.store.enqueue(
        owner=owner, url=url, event_type=event_type, object_id=object_id, now=time.time()
    )
    service.deliverer.poke()
    return webhook_id


@asynccontextmanager
async def open_webhook_service(app_state: Any) -> AsyncIterator[None]:
    """Open the queue and run the delivery loop for the app's lifetime."""
    settings: Settings = app_state.settings
    store: WebhookStore
    if is_postgres_url(settings.keys_db):
        # Imported here: ``batch.pg_base`` loads the batch package, whose routes import this one.
        from .pg_store import PostgresWebhookStore

        pg = PostgresWebhookStore(
            str(settings.keys_db), pool_size=4, timeout_s=max(settings.keys_db_timeout_s, 5.0)
        )
        await pg.open()
        store = pg
    else:
        store = SqliteWebhookStore(settings.keys_db)
    client = make_webhook_client(settings)
    deliverer = WebhookDeliverer(store, client, settings, app_state.metrics)
    app_state.webhooks = WebhookService(store, deliverer, settings)
    task = asyncio.create_task(deliverer.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()
        await store.close()
