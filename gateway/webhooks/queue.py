"""The queue of deliveries as SQL on the key store's SQLite file (migration 6), or its
PostgreSQL database (PostgreSQL migration 5).

``enqueue_in`` (SQLite) and ``enqueue_in_pg`` (PostgreSQL) add one event inside the caller's
own transaction, so a batch's or job's end and its event are written together or not at all
(``batch.sqlite_queue.end_batch``, ``batch.pg_queue.end_batch``, the job stores' ends). A delivery's
``id`` is its ``webhook-id`` and is derived from (owner, type, object): queueing one ending
twice stores it once (``INSERT OR IGNORE``).

A delivery row moves ``queued`` → ``leased`` (a worker holds it until ``lease_until``) →
``delivered`` | ``failed`` (attempts used up) | ``dropped`` (its key was revoked or expired,
or there is no secret left to sign with), or back to ``queued`` with a later
``not_before`` after a failed attempt. Ended rows are deleted after ``GATEWAY_FILES_TTL_S``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from .events import event_body, event_ids

__all__ = ["ACTIVE_OWNER", "DELIVERY_COLUMNS", "enqueue_in", "enqueue_in_pg"]

DELIVERY_COLUMNS = "id, owner, url, event_type, object_id, body, attempts, token"
ACTIVE_OWNER = (
    "EXISTS (SELECT 1 FROM api_keys k WHERE k.prefix = d.owner AND k.revoked_at IS NULL"
    " AND (k.expires_at IS NULL OR k.expires_at > :now))"
)
"""The delivery's key is active: a revoked or expired key's deliveries are dropped."""


def enqueue_in(
    db: sqlite3.Connection,
    *,
    owner: str,
    url: str,
    event_type: str,
    object_id: str,
    now: float,
) -> str:
    """Queue the event inside the caller's transaction; its ``webhook-id``."""
    webhook_id, event_id = event_ids(owner, event_type, object_id)
    body = event_body(event_id, event_type, object_id, now)
    db.execute(
        "INSERT OR IGNORE INTO webhook_deliveries (id, owner, url, event_type, object_id, body,"
        " state, queued_at) VALUES (?,?,?,?,?,?,'queued',?)",
        (webhook_id, owner, url, event_type, object_id, body, now),
    )
    return webhook_id


async def enqueue_in_pg(
    conn: Any,
    *,
    owner: str,
    url: str,
    event_type: str,
    object_id: str,
    now: float,
) -> str:
    """``enqueue_in`` on a psycopg ``AsyncConnection`` inside the caller's transaction."""
    webhook_id, event_id = event_ids(owner, event_type, object_id)
    body = event_body(event_id, event_type, object_id, now)
    await conn.execute(
        "INSERT INTO webhook_deliveries (id, owner, url, event_type, object_id, body,"
        " state, queued_at) VALUES (%s,%s,%s,%s,%s,%s,'queued',%s) ON CONFLICT (id) DO NOTHING",
        (webhook_id, owner, url, event_type, object_id, body, now),
    )
    return webhook_id
