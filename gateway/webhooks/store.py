"""``SqliteWebhookStore``: the durable queue of webhook deliveries in the key store's file.

The same lease pattern as the Batch API's line queue (``batch.sqlite``): a worker takes
deliveries with one statement, ``UPDATE … SET state='leased', token=?, lease_until=?,
attempts=attempts+1 WHERE id IN (SELECT …) RETURNING …``, which SQLite runs atomically, so
two gateway processes on one file never send the same attempt. The outcome is written only
under the lease's token. A gateway killed mid-delivery leaves the row leased; once the lease
lapses the next claim sends it again (at-least-once, same ``webhook-id``; the attempt it
died in counts). Only deliveries of active keys are claimed.

    store = SqliteWebhookStore("gateway-keys.db")
    wh_id = await store.enqueue(owner=prefix, url=url, event_type="batch.completed",
                                object_id="batch_…", now=time.time())
    [d] = await store.claim(time.time(), lease_s=25, limit=8)
    await store.delivered(d, time.time())
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..sqlitefile import SqliteBase
from .queue import ACTIVE_OWNER, DELIVERY_COLUMNS, enqueue_in

__all__ = ["Delivery", "DeliveryState", "SqliteWebhookStore", "WebhookStore"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One leased delivery: an event, where it goes, and with what to sign it."""

    id: str
    """The ``webhook-id`` header, the same on every attempt."""
    owner: str
    url: str
    event_type: str
    object_id: str
    body: str
    """The event's JSON text, sent byte for byte on every attempt."""
    attempts: int
    """Attempts so far, this one included."""
    token: str
    key_secret: str | None = None
    """The key's own signing secret; None: the global one signs."""


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """What became of a delivery (for operators and tests)."""

    id: str
    state: str
    attempts: int
    last_error: str | None


class WebhookStore(Protocol):
    """What the delivery loop and the service call: ``SqliteWebhookStore`` here, and
    ``pg_store.PostgresWebhookStore`` on a PostgreSQL key store (several replicas)."""

    async def enqueue(
        self, *, owner: str, url: str, event_type: str, object_id: str, now: float
    ) -> str: ...

    async def key_secret(self, owner: str) -> str | None: ...

    async def claim(self, now: float, lease_s: float, limit: int) -> list[Delivery]: ...

    async def delivered(self, d: Delivery, now: float) -> bool: ...

    async def give_up(self, d: Delivery, now: float, error: str, state: str = "failed") -> bool: ...

    async def retry_later(self, d: Delivery, not_before: float, error: str) -> bool: ...

    async def drop_inactive(self, now: float) -> int: ...

    async def sweep(self, ended_before: float) -> int: ...

    async def queue_stats(self, now: float) -> tuple[int, float]: ...

    async def state(self, webhook_id: str) -> DeliveryState | None: ...

    async def close(self) -> None: ...


def _delivery(row: Sequence[Any], secret: str | None) -> Delivery:
    webhook_id, owner, url, event_type, object_id, body, attempts, token = row
    return Delivery(
        webhook_id, owner, url, event_type, object_id, body, int(attempts), token, secret
    )


class SqliteWebhookStore(SqliteBase):
    """Webhook deliveries on one SQLite file (WAL mode, shared with the key store)."""

    # --- queueing -----------------------------------------------------------------------
    async def enqueue(
        self, *, owner: str, url: str, event_type: str, object_id: str, now: float
    ) -> str:
        """Queue one event (once: the same ending queued again is ignored); its webhook-id."""
        return await self._tx(
            lambda db: enqueue_in(
                db, owner=owner, url=url, event_type=event_type, object_id=object_id, now=now
            )
        )

    async def key_secret(self, owner: str) -> str | None:
        """The key's own signing secret, or None."""
        row = await self._run(
            lambda db: db.execute(
                "SELECT webhook_secret FROM api_keys WHERE prefix=?", (owner,)
            ).fetchone()
        )
        return None if row is None or row[0] is None else str(row[0])

    # --- delivering ---------------------------------------------------------------------
    async def claim(self, now: float, lease_s: float, limit: int) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries (queued and due, or with a lapsed lease) of
        active keys, oldest first, each counted as one attempt more."""
        token = secrets.token_hex(8)

        def claim(db: sqlite3.Connection) -> tuple[list[Any], dict[str, str | None]]:
            rows = db.execute(
                "UPDATE webhook_deliveries SET state='leased', token=:token,"
                " lease_until=:until, attempts=attempts+1 WHERE id IN (SELECT d.id FROM"
                " webhook_deliveries d WHERE ((d.state='queued' AND d.not_before <= :now)"
                " OR (d.state='leased' AND d.lease_until < :now)) AND " + ACTIVE_OWNER + ""
                " ORDER BY d.queued_at LIMIT :limit)"
                f" RETURNING {DELIVERY_COLUMNS}",
                {"token": token, "until": now + lease_s, "now": now, "limit": limit},
            ).fetchall()
            owners = sorted({r[1] for r in rows})
            marks = ",".join("?" * len(owners))
            found = db.execute(
                f"SELECT prefix, webhook_secret FROM api_keys WHERE prefix IN ({marks})", owners
            ).fetchall()
            return rows, {prefix: secret for prefix, secret in found}

        rows, secrets_by_owner = await self._tx(claim)
        return [_delivery(r, secrets_by_owner.get(r[1])) for r in rows]

    async def delivered(self, d: Delivery, now: float) -> bool:
        """The receiver took it (2xx). False: the lease was no longer this one's."""
        return await self._end(d, "delivered", now, None)

    async def give_up(self, d: Delivery, now: float, error: str, state: str = "failed") -> bool:
        """No more attempts: ``failed`` (used up) or ``dropped`` (nothing to sign with)."""
        return await self._end(d, state, now, error)

    async def _end(self, d: Delivery, state: str, now: float, error: str | None) -> bool:
        changed = await self._run(
            lambda db: (
                db.execute(
                    "UPDATE webhook_deliveries SET state=?, ended_at=?, last_error=?, token=NULL,"
                    " lease_until=NULL WHERE id=? AND token=? AND state='leased'",
                    (state, now, error, d.id, d.token),
                ).rowcount
            )
        )
        return bool(changed)

    async def retry_later(self, d: Delivery, not_before: float, error: str) -> bool:
        """Back to the queue, due at ``not_before``, with why this attempt failed."""
        changed = await self._run(
            lambda db: (
                db.execute(
                    "UPDATE webhook_deliveries SET state='queued', token=NULL, lease_until=NULL,"
                    " not_before=?, last_error=? WHERE id=? AND token=? AND state='leased'",
                    (not_before, error, d.id, d.token),
                ).rowcount
            )
        )
        return bool(changed)

    # --- housekeeping -------------------------------------------------------------------
    async def drop_inactive(self, now: float) -> int:
        """Drop the waiting deliveries of revoked or expired keys (revoking a key stops its
        queued work, webhooks included); how many."""
        return await self._run(
            lambda db: (
                db.execute(
                    "UPDATE webhook_deliveries AS d SET state='dropped', ended_at=:now,"
                    " last_error='key_inactive', token=NULL, lease_until=NULL"
                    " WHERE (d.state='queued' OR (d.state='leased' AND d.lease_until < :now))"
                    " AND NOT " + ACTIVE_OWNER,
                    {"now": now},
                ).rowcount
            )
        )

    async def sweep(self, ended_before: float) -> int:
        """Delete deliveries that ended before ``ended_before``; how many."""
        return await self._run(
            lambda db: (
                db.execute(
                    "DELETE FROM webhook_deliveries"
                    " WHERE state IN ('delivered', 'failed', 'dropped') AND ended_at < ?",
                    (ended_before,),
                ).rowcount
            )
        )

    async def queue_stats(self, now: float) -> tuple[int, float]:
        """(deliveries queued or leased, age in seconds of the oldest queued one)."""
        row = await self._run(
            lambda db: db.execute(
                "SELECT count(*), min(CASE WHEN state='queued' THEN queued_at END)"
                " FROM webhook_deliveries WHERE state IN ('queued', 'leased')"
            ).fetchone()
        )
        depth, oldest = row
        return int(depth), (max(0.0, now - oldest) if oldest is not None else 0.0)

    async def state(self, webhook_id: str) -> DeliveryState | None:
        row = await self._run(
            lambda db: db.execute(
                "SELECT id, state, attempts, last_error FROM webhook_deliveries WHERE id=?",
                (webhook_id,),
            ).fetchone()
        )
        return DeliveryState(*row) if row else None
