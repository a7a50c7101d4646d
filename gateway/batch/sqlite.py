"""``SqliteBatchStore``: the Batch API's ``BatchStore`` in the key store's SQLite file.

The embedded default: ``make dev`` and one-machine deployments need nothing else. The tables
come with the key store's migrations (versions 2, 4 and 6, ``gateway/auth/migrations.py``), so
``python -m gateway keys migrate`` (or any ``KeyStore`` opening the file) creates them.

The queue is a table: a worker leases lines with one statement,
``UPDATE batch_lines SET state='leased', token=?, lease_until=? WHERE id IN (SELECT …)
RETURNING …``, which SQLite runs atomically, so several gateway processes on one file never
lease the same line twice. A result is written with ``WHERE id=? AND token=? AND
state='leased'``: only the current lease writes, once. A lapsed lease (a killed gateway) is
claimable again; the claim joins ``api_keys``, so a revoked key's lines are never taken.

One connection per store, used from worker threads (``asyncio.to_thread``) under a lock:
each call is short, and a batch's validation inserts its lines in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .sqlite_base import BATCH_COLUMNS, FILE_COLUMNS, batch_row, file_row
from .sqlite_queue import SqliteQueue
from .store import BatchRow, FileRow

__all__ = ["SqliteBatchStore"]


class SqliteBatchStore(SqliteQueue):
    """``BatchStore`` on one SQLite file (WAL mode, shared with the key store): files and
    batches here, validation and the line queue in `sqlite_queue`."""

    # --- files --------------------------------------------------------------------------
    async def add_file(self, row: FileRow) -> None:
        await self._run(
            lambda db: db.execute(
                f"INSERT OR REPLACE INTO batch_files ({FILE_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                (
                    row.id,
                    row.owner,
                    row.purpose,
                    row.filename,
                    row.bytes,
                    row.created_at,
                    row.expires_at,
                ),
            )
        )

    async def get_file(self, owner: str, file_id: str) -> FileRow | None:
        row = await self._run(
            lambda db: db.execute(
                f"SELECT {FILE_COLUMNS} FROM batch_files WHERE id=? AND owner=?",
                (file_id, owner),
            ).fetchone()
        )
        return file_row(row) if row else None

    async def list_files(
        self, owner: str, purpose: str | None = None, after: str | None = None, limit: int = 10_000
    ) -> tuple[list[FileRow], bool]:
        sql = f"SELECT {FILE_COLUMNS} FROM batch_files f WHERE owner=:owner"
        args: dict[str, Any] = {"owner": owner, "purpose": purpose, "after": after}
        if purpose is not None:
            sql += " AND purpose=:purpose"
        if after is not None:
            # Newest first, ties by id: the page after ``after``'s place in that order.
            sql += (
                " AND (created_at, id) < (SELECT created_at, id FROM batch_files"
                " WHERE id=:after AND owner=:owner)"
            )
        sql += " ORDER BY created_at DESC, id DESC LIMIT :limit"
        args["limit"] = limit + 1
        rows = await self._run(lambda db: db.execute(sql, args).fetchall())
        return [file_row(r) for r in rows[:limit]], len(rows) > limit

    async def delete_file(self, owner: str, file_id: str) -> FileRow | None:
        row = await self._run(
            lambda db: db.execute(
                f"DELETE FROM batch_files WHERE id=? AND owner=? RETURNING {FILE_COLUMNS}",
                (file_id, owner),
            ).fetchall()
        )
        return file_row(row[0]) if row else None

    async def take_expired_files(self, now: float) -> list[FileRow]:
        rows = await self._run(
            lambda db: db.execute(
                f"DELETE FROM batch_files WHERE expires_at <= ? RETURNING {FILE_COLUMNS}",
                (now,),
            ).fetchall()
        )
        return [file_row(r) for r in rows]

    # --- batches ------------------------------------------------------------------------
    async def create_batch(self, row: BatchRow) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO batches (id, owner, key_name, endpoint, input_file_id,"
                " completion_window, status, created_at, expires_at, metadata, schema_version,"
                " webhook_url) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    row.id,
                    row.owner,
                    row.key_name,
                    row.endpoint,
                    row.input_file_id,
                    row.completion_window,
                    row.status,
                    row.created_at,
                    row.expires_at,
                    json.dumps(row.metadata) if row.metadata is not None else None,
                    row.schema_version,
                    row.webhook_url,
                ),
            )
        )

    async def open_batches(self, endpoint: str) -> int:
        row = await self._run(
            lambda db: db.execute(
                "SELECT count(*) FROM batches WHERE endpoint = ? AND status IN"
                " ('validating', 'in_progress', 'finalizing', 'cancelling')",
                (endpoint,),
            ).fetchone()
        )
        return int(row[0])

    async def get_batch(self, owner: str, batch_id: str) -> BatchRow | None:
        row = await self._run(
            lambda db: db.execute(
                f"SELECT {BATCH_COLUMNS} FROM batches WHERE id=? AND owner=?",
                (batch_id, owner),
            ).fetchone()
        )
        return batch_row(row) if row else None

    async def list_batches(
        self, owner: str, after: str | None, limit: int
    ) -> tuple[list[BatchRow], bool]:
        def query(db: sqlite3.Connection) -> list[Any]:
            if after is None:
                return db.execute(
                    f"SELECT {BATCH_COLUMNS} FROM batches WHERE owner=? ORDER BY seq DESC LIMIT ?",
                    (owner, limit + 1),
                ).fetchall()
            return db.execute(
                f"SELECT {BATCH_COLUMNS} FROM batches WHERE owner=? AND seq <"
                " (SELECT seq FROM batches WHERE id=? AND owner=?) ORDER BY seq DESC LIMIT ?",
                (owner, after, owner, limit + 1),
            ).fetchall()

        rows = await self._run(query)
        return [batch_row(r) for r in rows[:limit]], len(rows) > limit

    async def cancel_batch(self, owner: str, batch_id: str, now: float) -> BatchRow | None:
        def cancel(db: sqlite3.Connection) -> Any:
            db.execute(
                "UPDATE batches SET status='cancelling', cancelling_at=?"
                " WHERE id=? AND owner=? AND status IN ('validating', 'in_progress')",
                (now, batch_id, owner),
            )
            return db.execute(
                f"SELECT {BATCH_COLUMNS} FROM batches WHERE id=? AND owner=?",
                (batch_id, owner),
            ).fetchone()

        row = await self._tx(cancel)
        return batch_row(row) if row else None
