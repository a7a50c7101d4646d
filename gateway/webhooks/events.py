"""The events the gateway sends: OpenAI's webhook event object.

    {"object": "event", "id": "evt_…", "type": "batch.completed", "created_at": 1765000000,
     "data": {"id": "batch_…"}}

The body is built once, when the event is queued, and sent byte for byte on every retry.
Ids are derived from (owner, type, object), so queueing the same ending twice (a finisher
that ran again after a crash) stores one event, not two; the ``webhook-id`` header
(``wh_…``) and the event's ``id`` (``evt_…``) share that derivation.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal, get_args

__all__ = ["EVENT_TYPES", "EventType", "event_body", "event_ids"]

EventType = Literal[
    "batch.completed",
    "batch.failed",
    "batch.cancelled",
    "batch.expired",
    "extraction.job.completed",
    "extraction.job.failed",
    "extraction.job.cancelled",
]
EVENT_TYPES: frozenset[str] = frozenset(get_args(EventType))


def event_ids(owner: str, event_type: str, object_id: str) -> tuple[str, str]:
    """(``webhook-id``, event id) of the one event of this type about this object."""
    digest = hashlib.sha256(f"{owner}\0{event_type}\0{object_id}".encode()).hexdigest()[:32]
    return f"wh_{digest}", f"evt_{digest}"


def event_body(event_id: str, event_type: str, object_id: str, created_at: float) -> str:
    """The event as the JSON text that is signed and sent (``ValueError``: unknown type)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    return json.dumps(
        {
            "object": "event",
            "id": event_id,
            "type": event_type,
            "created_at": int(created_at),
            "data": {"id": object_id},
        },
        separators=(",", ":"),
    )
