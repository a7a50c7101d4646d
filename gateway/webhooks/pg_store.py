"""``PostgresWebhookStore``: the queue of webhook deliveries in the PostgreSQL key database,
for several gateway replicas (PostgreSQL migration 5).

The same rules as ``store.SqliteWebhookStore``, on the Batch API's pool helper
(``batch.pg_base.PostgresBase``): every replica runs a ``WebhookDeliverer``, and ``claim``
leases due deliveries with ``FOR UPDATE SKIP LOCKED`` in one ``UPDATE … RETURNING``, so one
attempt of a delivery is made by one replica at a time. The outcome is written only under
the lease's token; a lease that lapsed (its replica died mid-attempt) is claimed again by any
replica, and the event is sent again with the same ``webhook-id`` (at-least-once). Events
are queued by the stores that end a batch or a job, in their own transaction
(``queue.enqueue_in_pg``)."""

from __future__ import annotations

import secrets
from typing import Any

from ..batch.pg_base import Conn, PostgresBase
from .queue import DELIVERY_COLUMNS, enqueue_in_pg
from .store import Delivery, DeliveryState, _delivery

__all__ = ["PostgresWebhookStore"]

_ACTIVE_OWNER = (
    "EXISTS (SELECT 1 FROM api_keys k WHERE k.prefix = d.owner AND k.revoked_at IS NULL"
    " AND (k.expires_at IS NULL OR k.expires_at > to_timestamp(%(now)s)))"
)
"""``queue.ACTIVE_OWNER`` on PostgreSQL (key times are timestamptz there)."""


class PostgresWebhookStore(PostgresBase):
    """Webhook deliveries in the key database (see the module docstring)."""

    async def enqueue(
        self, *, owner: str, url: str, event_type: str, object_id: str, now: float
    ) -> str:
        """Queue one event (once: the same ending queued again is ignored); its webhook-id."""

        async def add(conn: Conn) -> str:
            return await enqueue_in_pg(
                conn, owner=owner, url=url, event_type=event_type, object_id=object_id, now=now
            )

        return await self._tx(add)

    async def key_secret(self, owner: str) -> str | None:
        row = await self._one("SELECT webhook_secret FROM api_keys WHERE prefix=%s", (owner,))
        return None if row is None or row[0] is None else str(row[0])

    async def claim(self, now: float, lease_s: float, limit: int) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries of active keys (queued and due, or with a
        lapsed lease), oldest first, each counted as one attempt more; rows another replica
        is leasing right now are skipped."""
        token = secrets.token_hex(8)
        columns = ", ".join(f"w.{c.strip()}" for c in DELIVERY_COLUMNS.split(","))
        rows = await self._all(
            "UPDATE webhook_deliveries w SET state='leased', token=%(token)s,"
            " lease_until=%(until)s, attempts=w.attempts+1 WHERE w.id IN (SELECT d.id FROM"
            " webhook_deliveries d WHERE ((d.state='queued' AND d.not_before <= %(now)s)"
            " OR (d.state='leased' AND d.lease_until < %(now)s)) AND " + _ACTIVE_OWNER + ""
            " ORDER BY d.queued_at LIMIT %(limit)s FOR UPDATE OF d SKIP LOCKED)"
            f" RETURNING {columns},"
            " (SELECT k.webhook_secret FROM api_keys k WHERE k.prefix = w.owner)",
            {"token": token, "until": now + lease_s, "now": now, "limit": limit},
        )
        return [_delivery(r[:-1], r[-1]) for r in rows]

    async def delivered(self, d: Delivery, now: float) -> bool:
        return await self._end(d, "delivered", now, None)

    async def give_up(self, d: Delivery, now: float, error: str, state: str = "failed") -> bool:
        return await self._end(d, state, now, error)

    async def _end(self, d: Delivery, state: str, now: float, error: str | None) -> bool:
        changed = await self._exec(
            "UPDATE webhook_deliveries SET state=%s, ended_at=%s, last_error=%s, token=NULL,"
            " lease_until=NULL WHERE id=%s AND token=%s AND state='leased'",
            (state, now, error, d.id, d.token),
        )
        return bool(changed)

    async def retry_later(self, d: Delivery, not_before: float, error: str) -> bool:
        changed = await self._exec(
            "UPDATE webhook_deliveries SET state='queued', token=NULL, lease_until=NULL,"
            " not_before=%s, last_error=%s WHERE id=%s AND token=%s AND state='leased'",
            (not_before, error, d.id, d.token),
        )
        return bool(changed)

    async def drop_inactive(self, now: float) -> int:
        return await self._exec(
            "UPDATE webhook_deliveries d SET state='dropped', ended_at=%(now)s,"
            " last_error='key_inactive', token=NULL, lease_until=NULL"
            " WHERE (d.state='queued' OR (d.state='leased' AND d.lease_until < %(now)s))"
            " AND NOT " + _ACTIVE_OWNER,
            {"now": now},
        )

    async def sweep(self, ended_before: float) -> int:
        return await self._exec(
            "DELETE FROM webhook_deliveries"
            " WHERE state IN ('delivered', 'failed', 'dropped') AND ended_at < %s",
            (ended_before,),
        )

    async def queue_stats(self, now: float) -> tuple[int, float]:
        row: Any = await self._one(
            "SELECT count(*), min(CASE WHEN state='queued' THEN queued_at END)"
            " FROM webhook_deliveries WHERE state IN ('queued', 'leased')"
        )
        depth, oldest = row if row else (0, None)
        return int(depth), (max(0.0, now - oldest) if oldest is not None else 0.0)

    async def state(self, webhook_id: str) -> DeliveryState | None:
        row = await self._one(
            "SELECT id, state, attempts, last_error FROM webhook_deliveries WHERE id=%s",
            (webhook_id,),
        )
        return DeliveryState(*row) if row else None
