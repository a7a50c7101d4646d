"""``PostgresBatchStore``: the Batch API's ``BatchStore`` in the PostgreSQL key database, for
several gateway replicas.

The same rules as ``SqliteBatchStore`` (see `store`), on the tables of PostgreSQL migration 3
(``gateway/auth/migrations.py``), which the key store's migration step applies. A line is
leased with ``FOR UPDATE SKIP LOCKED``, so workers of any replica never take the same line;
which line a worker runs, and when, comes from procrastinate's queue (`pg_queue`, `pg_worker`):
one procrastinate job per line, deferred in the transaction that makes the line runnable.
File bytes live in the same database (`pg_blobs.PostgresBlobs`)."""

from __future__ import annotations

import json
from typing import Any

from .pg_base import Conn
from .pg_queue import PostgresQueue
from .sqlite_base import BATCH_COLUMNS, FILE_COLUMNS, batch_row, file_row
from .store import BatchRow, FileRow

__all__ = ["PostgresBatchStore"]

_INSERT_FILE = (
    f"INSERT INTO batch_files ({FILE_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s)"
    " ON CONFLICT (id) DO UPDATE SET owner=excluded.owner, purpose=excluded.purpose,"
    " filename=excluded.filename, bytes=excluded.bytes, created_at=excluded.created_at,"
    " expires_at=excluded.expires_at"
)


class PostgresBatchStore(PostgresQueue):
    """``BatchStore`` on PostgreSQL: files and batches here, validation and the line queue in
    `pg_queue`."""

    # --- files --------------------------------------------------------------------------
    async def add_file(self, row: FileRow) -> None:
        await self._exec(
            _INSERT_FILE,
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

    async def get_file(self, owner: str, file_id: str) -> FileRow | None:
        row = await self._one(
            f"SELECT {FILE_COLUMNS} FROM batch_files WHERE id=%s AND owner=%s", (file_id, owner)
        )
        return file_row(row) if row else None

    async def list_files(
        self, owner: str, purpose: str | None = None, after: str | None = None, limit: int = 10_000
    ) -> tuple[list[FileRow], bool]:
        sql = f"SELECT {FILE_COLUMNS} FROM batch_files WHERE owner=%(owner)s"
        args: dict[str, Any] = {"owner": owner, "purpose": purpose, "after": after}
        if purpose is not None:
            sql += " AND purpose=%(purpose)s"
        if after is not None:
            # Newest first, ties by id: the page after ``after``'s place in that order.
            sql += (
                " AND (created_at, id) < (SELECT created_at, id FROM batch_files"
                " WHERE id=%(after)s AND owner=%(owner)s)"
            )
        sql += " ORDER BY created_at DESC, id DESC LIMIT %(limit)s"
        args["limit"] = limit + 1
        rows = await self._all(sql, args)
        return [file_row(r) for r in rows[:limit]], len(rows) > limit

    async def delete_file(self, owner: str, file_id: str) -> FileRow | None:
        row = await self._one(
            f"DELETE FROM batch_files WHERE id=%s AND owner=%s RETURNING {FILE_COLUMNS}",
            (file_id, owner),
        )
        return file_row(row) if row else None

    async def take_expired_files(self, now: float) -> list[FileRow]:
        rows = await self._all(
            f"DELETE FROM batch_files WHERE expires_at <= %s RETURNING {FILE_COLUMNS}", (now,)
        )
        return [file_row(r) for r in rows]

    # --- batches ------------------------------------------------------------------------
    async def create_batch(self, row: BatchRow) -> None:
        await self._exec(
            "INSERT INTO batches (id, owner, key_name, endpoint, input_file_id,"
            " completion_window, status, created_at, expires_at, metadata, schema_version,"
            " webhook_url) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
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

    async def open_batches(self, endpoint: str) -> int:
        row = await self._one(
            "SELECT count(*) FROM batches WHERE endpoint = %s AND status IN"
            " ('validating', 'in_progress', 'finalizing', 'cancelling')",
            (endpoint,),
        )
        return int(row[0]) if row else 0

    async def get_batch(self, owner: str, batch_id: str) -> BatchRow | None:
        row = await self._one(
            f"SELECT {BATCH_COLUMNS} FROM batches WHERE id=%s AND owner=%s", (batch_id, owner)
        )
        return batch_row(row) if row else None

    async def list_batches(
        self, owner: str, after: str | None, limit: int
    ) -> tuple[list[BatchRow], bool]:
        if after is None:
            rows = await self._all(
                f"SELECT {BATCH_COLUMNS} FROM batches WHERE owner=%s ORDER BY seq DESC LIMIT %s",
                (owner, limit + 1),
            )
        else:
            rows = await self._all(
                f"SELECT {BATCH_COLUMNS} FROM batches WHERE owner=%s AND seq <"
                " (SELECT seq FROM batches WHERE id=%s AND owner=%s) ORDER BY seq DESC LIMIT %s",
                (owner, after, owner, limit + 1),
            )
        return [batch_row(r) for r in rows[:limit]], len(rows) > limit

    async def cancel_batch(self, owner: str, batch_id: str, now: float) -> BatchRow | None:
        async def cancel(conn: Conn) -> Any:
            await conn.execute(
                "UPDATE batches SET status='cancelling', cancelling_at=%s"
                " WHERE id=%s AND owner=%s AND status IN ('validating', 'in_progress')",
                (now, batch_id, owner),
            )
            cur = await conn.execute(
                f"SELECT {BATCH_COLUMNS} FROM batches WHERE id=%s AND owner=%s".encode(),
                (batch_id, owner),
            )
            return await cur.fetchone()

        row = await self._tx(cancel)
        return batch_row(row) if row else None
