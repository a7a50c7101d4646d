"""The queue half of ``PostgresBatchStore``: a batch's validation, its lines leased by workers
of any replica, their results, and the batch's end.

Every statement that makes a line runnable (a batch started, a line given back for a retry)
defers, in the same transaction, one procrastinate job per line (``LINE_TASK`` on
``QUEUE``, ``{"line_id": …}``), through procrastinate's own ``procrastinate_defer_jobs_v1``:
a line is runnable exactly when a job for it is queued, and procrastinate's ``NOTIFY`` wakes
idle workers at once. The job leases its line with ``claim_line`` (``FOR UPDATE SKIP
LOCKED``, a fresh token, ``lease_until``); only that lease may ``finish`` it, once.
``requeue_orphans`` is the safety net for a line whose job is gone while the line is still
runnable (a job retried as stalled while its dead worker's line lease had not lapsed yet)."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..webhooks.queue import enqueue_in_pg
from .pg_base import ACTIVE_KEY, Conn, PostgresBase, resumed
from .pg_dispatch import defer_orphans, defer_sql, unqueued
from .sqlite_base import BATCH_COLUMNS, FILE_COLUMNS, RESULT_PAGE, batch_row
from .store import BatchRow, BatchStatus, CloseReason, FileRow, InputLine, Unit

__all__ = ["LINE_TASK", "QUEUE", "PostgresQueue"]

QUEUE = "gateway_batch"
"""procrastinate queue of the Batch API's line jobs."""
LINE_TASK = "gateway.batch.line"
"""procrastinate task name of one batch line's job (`pg_worker`)."""

_REQUEUE_LOCK = 0x76736771
"""pg_try_advisory_xact_lock key of ``requeue_orphans`` ("vsgq")."""

_RUNNABLE = (
    "b.status='in_progress' AND b.expires_at > %(now)s AND " + ACTIVE_KEY + ""
    " AND ((l.state='queued' AND l.not_before <= %(now)s)"
    "      OR (l.state='leased' AND l.lease_until < %(now)s))"
)
_UNIT_RETURNING = (
    " RETURNING l.id, l.batch_id, l.line, l.custom_id, l.body, b.endpoint, b.owner,"
    " b.key_name, l.retries, l.token,"
    " (SELECT k.max_concurrent FROM api_keys k WHERE k.prefix=b.owner AND k.revoked_at IS NULL)"
)


def _defer(where: str) -> str:
    """SQL deferring one line job per ``batch_lines l`` row matching ``where`` (due at
    ``%(due)s``, epoch seconds, or now when NULL), in line order (``pg_dispatch.defer_sql``:
    the line id is the job's lock and queueing lock). A line with a job queued already gets
    none more (that job runs it, or finds it not due and ends, and ``requeue_orphans``
    defers one when it is)."""
    return defer_sql(QUEUE, LINE_TASK, "batch_lines", "l", "line_id", where, "l.line")


class PostgresQueue(PostgresBase):
    """Validation, the line queue and a batch's end, on the store's pool."""

    # --- validation ---------------------------------------------------------------------
    async def claim_validation(self, now: float, lease_s: float) -> BatchRow | None:
        row = await self._one(
            "UPDATE batches SET lease_until=%(until)s WHERE id = (SELECT id FROM batches"
            " WHERE status='validating' AND (lease_until IS NULL OR lease_until < %(now)s)"
            f" ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING {BATCH_COLUMNS}",
            {"now": now, "until": now + lease_s},
        )
        return batch_row(row) if row else None

    async def add_lines(self, batch_id: str, lines: Sequence[InputLine], now: float) -> None:
        async def add(conn: Conn) -> None:
            cur = await conn.execute(
                "SELECT 1 FROM batches WHERE id=%s AND status='validating' FOR UPDATE",
                (batch_id,),
            )
            if await cur.fetchone() is None:
                return
            async with conn.cursor() as many:
                await many.executemany(
                    "INSERT INTO batch_lines (id, batch_id, line, custom_id, body, state,"
                    " queued_at) VALUES (%s,%s,%s,%s,%s,'queued',%s) ON CONFLICT (id) DO NOTHING",
                    [
                        (f"{batch_id}:{x.line}", batch_id, x.line, x.custom_id, x.body, now)
                        for x in lines
                    ],
                )

        await self._tx(add)

    async def start_batch(self, batch_id: str, total: int, now: float) -> None:
        async def start(conn: Conn) -> None:
            cur = await conn.execute(
                "UPDATE batches SET status='in_progress', in_progress_at=%s, total=%s,"
                " lease_until=NULL WHERE id=%s AND status='validating'",
                (now, total, batch_id),
            )
            if cur.rowcount:
                await conn.execute(
                    _defer("l.batch_id=%(batch)s").encode(), {"batch": batch_id, "due": None}
                )

        await self._tx(start)

    async def fail_validation(
        self, batch_id: str, errors: list[dict[str, Any]], now: float
    ) -> None:
        errors_json = json.dumps({"object": "list", "data": errors})

        async def fail(conn: Conn) -> None:
            cur = await conn.execute(
                "UPDATE batches SET status='failed', failed_at=%s, errors=%s, lease_until=NULL"
                " WHERE id=%s AND status IN ('validating', 'cancelling')"
                " RETURNING owner, webhook_url",
                (now, errors_json, batch_id),
            )
            ended = await cur.fetchall()
            await conn.execute("DELETE FROM batch_lines WHERE batch_id=%s", (batch_id,))
            for owner, url in ended:
                await _announce(conn, owner, url, "failed", batch_id, now)

        await self._tx(fail)

    # --- the queue ----------------------------------------------------------------------
    async def claim(self, now: float, lease_s: float, limit: int) -> list[Unit]:
        """Lease up to ``limit`` runnable lines of any batch (the protocol's claim; the
        replicas' workers take lines one by one through their jobs, ``claim_line``)."""
        return await self._claim("TRUE", now, lease_s, limit, {})

    async def claim_line(self, line_id: str, now: float, lease_s: float) -> Unit | None:
        """Lease this line if it is runnable (not done, not leased by a live lease, its batch
        in progress and its key active); None otherwise."""
        units = await self._claim("l.id = %(line_id)s", now, lease_s, 1, {"line_id": line_id})
        return units[0] if units else None

    async def _claim(
        self, where: str, now: float, lease_s: float, limit: int, extra: dict[str, Any]
    ) -> list[Unit]:
        token = secrets.token_hex(8)
        rows = await self._all(
            "UPDATE batch_lines l SET state='leased', token=%(token)s, lease_until=%(until)s"
            " FROM batches b WHERE b.id=l.batch_id AND l.id IN (SELECT l.id FROM batch_lines l"
            f" JOIN batches b ON b.id=l.batch_id WHERE {where} AND {_RUNNABLE}"
            " ORDER BY l.queued_at, l.batch_id, l.line LIMIT %(limit)s FOR UPDATE OF l SKIP LOCKED)"
            + _UNIT_RETURNING,
            {"token": token, "until": now + lease_s, "now": now, "limit": limit, **extra},
        )
        return [Unit(*row) for row in rows]

    async def renew(self, units: Sequence[Unit], until: float) -> None:
        async with self._conn() as conn, conn.cursor() as cur:
            await cur.executemany(
                "UPDATE batch_lines SET lease_until=%s WHERE id=%s AND token=%s AND state='leased'",
                [(until, u.id, u.token) for u in units],
            )

    async def finish(self, unit: Unit, result: str, failed: bool) -> bool:
        async def finish(conn: Conn) -> bool:
            cur = await conn.execute(
                "UPDATE batch_lines SET state='done', result=%s, failed=%s, body='',"
                " lease_until=NULL WHERE id=%s AND token=%s AND state='leased'",
                (result, failed, unit.id, unit.token),
            )
            if cur.rowcount:
                column = "failed" if failed else "completed"
                await conn.execute(
                    f"UPDATE batches SET {column}={column}+1 WHERE id=%s".encode(),
                    (unit.batch_id,),
                )
            return bool(cur.rowcount)

        return await self._tx(finish)

    async def retry_later(self, unit: Unit, not_before: float) -> None:
        async def retry(conn: Conn) -> None:
            cur = await conn.execute(
                "UPDATE batch_lines SET state='queued', token=NULL, lease_until=NULL,"
                " not_before=%s, retries=retries+1 WHERE id=%s AND token=%s AND state='leased'",
                (not_before, unit.id, unit.token),
            )
            if cur.rowcount:
                await conn.execute(
                    _defer("l.id=%(line)s").encode(), {"line": unit.id, "due": not_before}
                )

        await self._tx(retry)

    async def requeue_orphans(self, now: float) -> int:
        """Defer a job for every runnable line that has none queued or running (the safety
        net of the module docstring); how many. One replica at a time (an advisory lock)."""
        where = (
            "l.id IN (SELECT l.id FROM batch_lines l JOIN batches b ON b.id=l.batch_id"
            f" WHERE {_RUNNABLE} AND {unqueued('l')})"
        )

        async def requeue(conn: Conn) -> int:
            return await defer_orphans(
                conn, _REQUEUE_LOCK, _defer(where), {"now": now, "due": None}
            )

        return await self._tx(requeue)

    async def queue_stats(self, now: float) -> tuple[int, float]:
        row = await self._one(
            "SELECT count(*), min(CASE WHEN state='queued' THEN queued_at END)"
            " FROM batch_lines WHERE state IN ('queued', 'leased')"
        )
        depth, oldest = row if row else (0, None)
        return int(depth), (max(0.0, now - oldest) if oldest is not None else 0.0)

    # --- the end of a batch -------------------------------------------------------------
    async def close_due(self, now: float, lease_s: float) -> list[tuple[BatchRow, CloseReason]]:
        unfinished = (
            "EXISTS (SELECT 1 FROM batch_lines l WHERE l.batch_id=b.id"
            " AND l.state IN ('queued', 'leased'))"
        )
        leased = (
            "EXISTS (SELECT 1 FROM batch_lines l WHERE l.batch_id=b.id"
            " AND l.state='leased' AND l.lease_until >= %(now)s)"
        )
        queries: list[tuple[str, CloseReason]] = [
            (
                "b.status IN ('in_progress', 'validating', 'cancelling') AND NOT " + ACTIVE_KEY,
                "key_inactive",
            ),
            ("b.status IN ('in_progress', 'cancelling') AND b.expires_at <= %(now)s", "expired"),
            ("b.status='in_progress' AND NOT " + unfinished, "done"),
            ("b.status='cancelling' AND NOT " + leased, "cancelled"),
            (
                "b.status='finalizing' AND (b.lease_until IS NULL OR b.lease_until < %(now)s)",
                "done",
            ),
        ]

        async def due(conn: Conn) -> list[tuple[BatchRow, CloseReason]]:
            found: list[tuple[BatchRow, CloseReason]] = []
            seen: set[str] = set()
            for where, reason in queries:
                cur = await conn.execute(
                    f"SELECT {BATCH_COLUMNS} FROM batches b WHERE {where}"
                    " FOR UPDATE OF b SKIP LOCKED".encode(),
                    {"now": now},
                )
                for row in await cur.fetchall():
                    batch = batch_row(row)
                    if batch.id not in seen:
                        seen.add(batch.id)
                        why = await resumed(
                            conn,
                            batch.status,
                            batch.cancelling_at,
                            batch.expires_at,
                            batch.id,
                            now,
                        )
                        found.append((batch, why or reason))  # type: ignore[arg-type]
            for batch, reason in found:
                await conn.execute(
                    "UPDATE batches SET status='finalizing', lease_until=%(until)s,"
                    " finalizing_at=coalesce(finalizing_at, %(now)s), cancelling_at=CASE"
                    " WHEN %(stop)s THEN coalesce(cancelling_at, %(now)s) ELSE cancelling_at END"
                    " WHERE id=%(id)s AND status IN"
                    " ('in_progress', 'validating', 'cancelling', 'finalizing')",
                    {
                        "now": now,
                        "until": now + lease_s,
                        "id": batch.id,
                        "stop": reason in ("cancelled", "key_inactive"),
                    },
                )
            return found

        return await self._tx(due)

    async def keep_finishing(self, batch_id: str, until: float) -> None:
        await self._exec(
            "UPDATE batches SET lease_until=%s WHERE id=%s AND status='finalizing'",
            (until, batch_id),
        )

    async def close_unfinished(self, batch_id: str, make_line: Any) -> None:
        async def close(conn: Conn) -> None:
            cur = await conn.execute(
                "SELECT id, custom_id, line FROM batch_lines WHERE batch_id=%s"
                " AND state IN ('queued', 'leased') FOR UPDATE",
                (batch_id,),
            )
            rows = await cur.fetchall()
            async with conn.cursor() as many:
                await many.executemany(
                    "UPDATE batch_lines SET state='done', failed=true, result=%s, body='',"
                    " token=NULL, lease_until=NULL WHERE id=%s",
                    [(make_line(custom_id, line), unit_id) for unit_id, custom_id, line in rows],
                )
            if rows:
                await conn.execute(
                    "UPDATE batches SET failed=failed+%s WHERE id=%s", (len(rows), batch_id)
                )

        await self._tx(close)

    async def results(self, batch_id: str) -> AsyncIterator[tuple[bool, str]]:
        after = 0
        while True:
            rows = await self._all(
                "SELECT line, failed, result FROM batch_lines WHERE batch_id=%s AND line>%s"
                " AND state='done' ORDER BY line LIMIT %s",
                (batch_id, after, RESULT_PAGE),
            )
            for _line, failed, result in rows:
                yield bool(failed), str(result)
            if len(rows) < RESULT_PAGE:
                return
            after = rows[-1][0]

    async def end_batch(
        self,
        batch_id: str,
        status: BatchStatus,
        files: Sequence[FileRow],
        output_file_id: str | None,
        error_file_id: str | None,
        now: float,
    ) -> None:
        stamp = {
            "completed": "completed_at",
            "expired": "expired_at",
            "cancelled": "cancelled_at",
            "failed": "failed_at",
        }[status]

        async def end(conn: Conn) -> None:
            cur = await conn.execute(
                "SELECT owner, webhook_url FROM batches WHERE id=%s AND status='finalizing'"
                " FOR UPDATE",
                (batch_id,),
            )
            ending = await cur.fetchone()
            if ending is None:
                return
            for f in files:
                await conn.execute(
                    f"INSERT INTO batch_files ({FILE_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s)"
                    " ON CONFLICT (id) DO UPDATE SET bytes=excluded.bytes,"
                    " created_at=excluded.created_at, expires_at=excluded.expires_at".encode(),
                    (f.id, f.owner, f.purpose, f.filename, f.bytes, f.created_at, f.expires_at),
                )
            await conn.execute(
                f"UPDATE batches SET status=%s, {stamp}=%s, output_file_id=%s,"
                " error_file_id=%s, lease_until=NULL WHERE id=%s".encode(),
                (status, now, output_file_id, error_file_id, batch_id),
            )
            await conn.execute("DELETE FROM batch_lines WHERE batch_id=%s", (batch_id,))
            await _announce(conn, ending[0], ending[1], status, batch_id, now)

        await self._tx(end)


async def _announce(
    conn: Conn, owner: str, url: str | None, status: str, batch_id: str, now: float
) -> None:
    """Queue the batch's ``batch.<status>`` webhook in the transaction that ends it."""
    if url:
        await enqueue_in_pg(
            conn, owner=owner, url=url, event_type=f"batch.{status}", object_id=batch_id, now=now
        )
