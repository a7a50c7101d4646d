"""Signed webhooks in OpenAI's format: an event POSTed when a batch or a job ends.

events.py    the event object and its ids (``evt_…``, ``wh_…``)
signing.py   Standard Webhooks headers (``standardwebhooks``), secret format
targets.py   where a webhook may go: the image fetcher's SSRF rules, https only
queue.py     the delivery queue's SQL, ``enqueue_in``/``enqueue_in_pg`` for a caller's own
             transaction
store.py     WebhookStore, SqliteWebhookStore: the durable queue (leases, retries, swept)
pg_store.py  PostgresWebhookStore: the same queue in the PostgreSQL key database
deliver.py   WebhookDeliverer: the delivery loop (a lifespan task)
service.py   WebhookService, ``accept_webhook_url``, ``enqueue_event``, the lifespan

``docs/webhooks.md`` describes the events, their signatures, secrets and delivery.
"""

from .events import EVENT_TYPES, EventType
from .queue import enqueue_in
from .service import WebhookService, accept_webhook_url, enqueue_event, open_webhook_service
from .signing import check_secret, signed_headers
from .store import Delivery, SqliteWebhookStore

__all__ = [
    "EVENT_TYPES",
    "Delivery",
    "EventType",
    "SqliteWebhookStore",
    "WebhookService",
    "accept_webhook_url",
    "check_secret",
    "enqueue_event",
    "enqueue_in",
    "open_webhook_service",
    "signed_headers",
]
