"""The queue half of ``SqliteBatchStore``: a batch's validation, its lines leased by workers,
their results, and the batch's end (see `sqlite` for how a lease works)."""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..webhooks.queue import enqueue_in
from .sqlite_base import (
    ACTIVE_KEY,
    BATCH_COLUMNS,
    FILE_COLUMNS,
    RESULT_PAGE,
    SqliteBase,
    batch_row,
    resumed,
)
from .store import BatchRow, BatchStatus, CloseReason, FileRow, InputLine, Unit

__all__ = ["SqliteQueue"]


class SqliteQueue(SqliteBase):
    """Validation, the line queue and a batch's end, on the store's connection."""

    # --- validation ---------------------------------------------------------------------
    async def claim_validation(self, now: float, lease_s: float) -> BatchRow | None:
        rows = await self._run(
            lambda db: db.execute(
                "UPDATE batches SET lease_until=:until WHERE id = (SELECT id FROM batches"
                " WHERE status='validating' AND (lease_until IS NULL OR lease_until < :now)"
                f" ORDER BY seq LIMIT 1) RETURNING {BATCH_COLUMNS}",
                {"now": now, "until": now + lease_s},
            ).fetchall()
        )
        return batch_row(rows[0]) if rows else None

    async def add_lines(self, batch_id: str, lines: Sequence[InputLine], now: float) -> None:
        def add(db: sqlite3.Connection) -> None:
            validating = db.execute(
                "SELECT 1 FROM batches WHERE id=? AND status='validating'", (batch_id,)
            ).fetchone()
            if validating is None:
                return
            db.executemany(
                "INSERT OR IGNORE INTO batch_lines (id, batch_id, line, custom_id, body, state,"
                " queued_at) VALUES (?,?,?,?,?,'queued',?)",
                (
                    (f"{batch_id}:{x.line}", batch_id, x.line, x.custom_id, x.body, now)
                    for x in lines
                ),
            )

        await self._tx(add)

    async def start_batch(self, batch_id: str, total: int, now: float) -> None:
        await self._run(
            lambda db: db.execute(
                "UPDATE batches SET status='in_progress', in_progress_at=?, total=?,"
                " lease_until=NULL WHERE id=? AND status='validating'",
                (now, total, batch_id),
            )
        )

    async def fail_validation(
        self, batch_id: str, errors: list[dict[str, Any]], now: float
    ) -> None:
        errors_json = json.dumps({"object": "list", "data": errors})

        def fail(db: sqlite3.Connection) -> None:
            ended = db.execute(
                "UPDATE batches SET status='failed', failed_at=?, errors=?, lease_until=NULL"
                " WHERE id=? AND status IN ('validating', 'cancelling')"
                " RETURNING owner, webhook_url",
                (now, errors_json, batch_id),
            ).fetchall()
            db.execute("DELETE FROM batch_lines WHERE batch_id=?", (batch_id,))
            for owner, url in ended:
                _announce(db, owner, url, "failed", batch_id, now)

        await self._tx(fail)

    # --- the queue ----------------------------------------------------------------------
    async def claim(self, now: float, lease_s: float, limit: int) -> list[Unit]:
        token = secrets.token_hex(8)

        def claim(db: sqlite3.Connection) -> list[Any]:
            return db.execute(
                "UPDATE batch_lines SET state='leased', token=:token, lease_until=:until"
                " WHERE id IN (SELECT l.id FROM batch_lines l JOIN batches b ON b.id=l.batch_id"
                " WHERE b.status='in_progress' AND b.expires_at > :now AND " + ACTIVE_KEY + ""
                " AND ((l.state='queued' AND l.not_before <= :now)"
                "      OR (l.state='leased' AND l.lease_until < :now))"
                " ORDER BY l.queued_at, l.batch_id, l.line LIMIT :limit)"
                " RETURNING id, batch_id, line, custom_id, body, retries",
                {"token": token, "until": now + lease_s, "now": now, "limit": limit},
            ).fetchall()

        rows = await self._run(claim)
        if not rows:
            return []
        batch_ids = sorted({r[1] for r in rows})
        marks = ",".join("?" * len(batch_ids))
        info = await self._run(
            lambda db: db.execute(
                "SELECT b.id, b.endpoint, b.owner, b.key_name, k.max_concurrent FROM batches b"
                f" LEFT JOIN api_keys k ON k.prefix=b.owner WHERE b.id IN ({marks})",
                batch_ids,
            ).fetchall()
        )
        by_batch = {i[0]: i[1:] for i in info}
        units = []
        for unit_id, batch_id, line, custom_id, body, retries in rows:
            endpoint, owner, key_name, limit = by_batch[batch_id]
            units.append(
                Unit(
                    unit_id,
                    batch_id,
                    line,
                    custom_id,
                    body,
                    endpoint,
                    owner,
                    key_name,
                    retries,
                    token,
                    limit,
                )
            )
        return units

    async def renew(self, units: Sequence[Unit], until: float) -> None:
        await self._run(
            lambda db: db.executemany(
                "UPDATE batch_lines SET lease_until=? WHERE id=? AND token=? AND state='leased'",
                ((until, u.id, u.token) for u in units),
            )
        )

    async def finish(self, unit: Unit, result: str, failed: bool) -> bool:
        def finish(db: sqlite3.Connection) -> bool:
            done = db.execute(
                "UPDATE batch_lines SET state='done', result=?, failed=?, body='',"
                " lease_until=NULL WHERE id=? AND token=? AND state='leased'",
                (result, int(failed), unit.id, unit.token),
            ).rowcount
            if done:
                column = "failed" if failed else "completed"
                db.execute(f"UPDATE batches SET {column}={column}+1 WHERE id=?", (unit.batch_id,))
            return bool(done)

        return await self._tx(finish)

    async def retry_later(self, unit: Unit, not_before: float) -> None:
        await self._run(
            lambda db: db.execute(
                "UPDATE batch_lines SET state='queued', token=NULL, lease_until=NULL,"
                " not_before=?, retries=retries+1 WHERE id=? AND token=? AND state='leased'",
                (not_before, unit.id, unit.token),
            )
        )

    async def queue_stats(self, now: float) -> tuple[int, float]:
        row = await self._run(
            lambda db: db.execute(
                "SELECT count(*), min(CASE WHEN state='queued' THEN queued_at END)"
                " FROM batch_lines WHERE state IN ('queued', 'leased')"
            ).fetchone()
        )
        depth, oldest = row
        return int(depth), (max(0.0, now - oldest) if oldest is not None else 0.0)

    # --- the end of a batch -------------------------------------------------------------
    async def close_due(self, now: float, lease_s: float) -> list[tuple[BatchRow, CloseReason]]:
        def due(db: sqlite3.Connection) -> list[tuple[BatchRow, CloseReason]]:
            unfinished = (
                "EXISTS (SELECT 1 FROM batch_lines l WHERE l.batch_id=b.id"
                " AND l.state IN ('queued', 'leased'))"
            )
            leased = (
                "EXISTS (SELECT 1 FROM batch_lines l WHERE l.batch_id=b.id"
                " AND l.state='leased' AND l.lease_until >= :now)"
            )
            found: list[tuple[BatchRow, CloseReason]] = []
            queries: list[tuple[str, CloseReason]] = [
                (
                    "b.status IN ('in_progress', 'validating', 'cancelling') AND NOT " + ACTIVE_KEY,
                    "key_inactive",
                ),
                ("b.status IN ('in_progress', 'cancelling') AND b.expires_at <= :now", "expired"),
                ("b.status='in_progress' AND NOT " + unfinished, "done"),
                ("b.status='cancelling' AND NOT " + leased, "cancelled"),
                (
                    "b.status='finalizing' AND (b.lease_until IS NULL OR b.lease_until < :now)",
                    "done",
                ),
            ]
            seen: set[str] = set()
            for where, reason in queries:
                rows = db.execute(
                    f"SELECT {BATCH_COLUMNS} FROM batches b WHERE {where}", {"now": now}
                ).fetchall()
                for row in rows:
                    batch = batch_row(row)
                    if batch.id not in seen:
                        seen.add(batch.id)
                        found.append((batch, resumed(db, batch, now) or reason))
            for batch, reason in found:
                db.execute(
                    "UPDATE batches SET status='finalizing', lease_until=:until,"
                    " finalizing_at=coalesce(finalizing_at, :now), cancelling_at=CASE WHEN :stop"
                    " THEN coalesce(cancelling_at, :now) ELSE cancelling_at END"
                    " WHERE id=:id AND status IN"
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
        await self._run(
            lambda db: db.execute(
                "UPDATE batches SET lease_until=? WHERE id=? AND status='finalizing'",
                (until, batch_id),
            )
        )

    async def close_unfinished(self, batch_id: str, make_line: Any) -> None:
        def close(db: sqlite3.Connection) -> None:
            rows = db.execute(
                "SELECT id, custom_id, line FROM batch_lines WHERE batch_id=?"
                " AND state IN ('queued', 'leased')",
                (batch_id,),
            ).fetchall()
            for unit_id, custom_id, line in rows:
                db.execute(
                    "UPDATE batch_lines SET state='done', failed=1, result=?, body='',"
                    " token=NULL, lease_until=NULL WHERE id=?",
                    (make_line(custom_id, line), unit_id),
                )
            if rows:
                db.execute("UPDATE batches SET failed=failed+? WHERE id=?", (len(rows), batch_id))

        await self._tx(close)

    async def results(self, batch_id: str) -> AsyncIterator[tuple[bool, str]]:
        after = 0
        while True:
            rows = await self._run(
                lambda db, after=after: db.execute(  # type: ignore[misc]
                    "SELECT line, failed, result FROM batch_lines WHERE batch_id=? AND line>?"
                    " AND state='done' ORDER BY line LIMIT ?",
                    (batch_id, after, RESULT_PAGE),
                ).fetchall()
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

        def end(db: sqlite3.Connection) -> None:
            ending = db.execute(
                "SELECT owner, webhook_url FROM batches WHERE id=? AND status='finalizing'",
                (batch_id,),
            ).fetchone()
            if ending is None:
                return
            for f in files:
                db.execute(
                    f"INSERT OR REPLACE INTO batch_files ({FILE_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                    (f.id, f.owner, f.purpose, f.filename, f.bytes, f.created_at, f.expires_at),
                )
            db.execute(
                f"UPDATE batches SET status=?, {stamp}=?, output_file_id=?, error_file_id=?,"
                " lease_until=NULL WHERE id=?",
                (status, now, output_file_id, error_file_id, batch_id),
            )
            db.execute("DELETE FROM batch_lines WHERE batch_id=?", (batch_id,))
            _announce(db, ending[0], ending[1], status, batch_id, now)

        await self._tx(end)


def _announce(
    db: sqlite3.Connection, owner: str, url: str | None, status: str, batch_id: str, now: float
) -> None:
    """Queue the batch's ``batch.<status>`` webhook in the transaction that ends it."""
    if url:
        enqueue_in(
            db, owner=owner, url=url, event_type=f"batch.{status}", object_id=batch_id, now=now
        )
