"""``PostgresBlobs``: file bytes in PostgreSQL as chunked rows, behind ``FileBlobs``.

Gateway pods of several replicas are stateless, so the bytes of uploads and results live in the
key database: one ``batch_blobs`` row per file (``complete`` once every chunk is in) and its
bytes in ``batch_blob_chunks`` rows of at most ``CHUNK`` bytes. An upload is written chunk by
chunk, each in its own short statement, so neither the gateway nor the database holds a whole
file (a 200 MB upload is never in memory, nor in one transaction); a reader sees a file only
once it is complete, so a file is whole or absent, as with ``LocalBlobs``. What a crash left
incomplete is removed by ``sweep_partial``. Reading fetches one chunk per query.

    size = await blobs.save("file-…", chunks, limit=settings.batch_max_file_bytes)
    async for chunk in blobs.read("file-…"): ...
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from .blobs import BlobTooLarge

__all__ = ["CHUNK", "PostgresBlobs"]

CHUNK = 1 << 20
"""Bytes in one chunk row (the most a save or read holds at once, plus one incoming piece)."""


class PostgresBlobs:
    """``FileBlobs`` on the Batch API store's pool (`pg_base.PostgresBase.pool`)."""

    def __init__(
        self, pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], chunk: int = CHUNK
    ) -> None:
        self.pool = pool
        self.chunk = chunk

    async def save(self, file_id: str, chunks: AsyncIterable[bytes], limit: int) -> int:
        async with self.pool.connection() as conn, conn.transaction():
            # a file written again (a batch's result after a retried finish) starts afresh
            await conn.execute("DELETE FROM batch_blobs WHERE id=%s", (file_id,))
            await conn.execute(
                "INSERT INTO batch_blobs (id, complete, started_at) VALUES (%s, false, %s)",
                (file_id, time.time()),
            )
        size, seq = 0, 0
        pending = bytearray()
        try:
            async for piece in chunks:  # no connection is held while the client sends
                size += len(piece)
                if size > limit:
                    raise BlobTooLarge(f"more than {limit} bytes")
                pending += piece
                while len(pending) >= self.chunk:
                    await self._put(file_id, seq, bytes(pending[: self.chunk]))
                    del pending[: self.chunk]
                    seq += 1
            if pending:
                await self._put(file_id, seq, bytes(pending))
            async with self.pool.connection() as conn:
                await conn.execute("UPDATE batch_blobs SET complete=true WHERE id=%s", (file_id,))
        except BaseException:
            await self.delete(file_id)
            raise
        return size

    async def _put(self, file_id: str, seq: int, data: bytes) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO batch_blob_chunks (blob_id, seq, data) VALUES (%s, %s, %s)",
                (file_id, seq, data),
            )

    async def read(self, file_id: str) -> AsyncIterator[bytes]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT 1 FROM batch_blobs WHERE id=%s AND complete", (file_id,)
            )
            if await cur.fetchone() is None:
                raise FileNotFoundError(file_id)
        seq = 0
        while True:
            async with self.pool.connection() as conn:  # not held while the reader waits
                cur = await conn.execute(
                    "SELECT data FROM batch_blob_chunks WHERE blob_id=%s AND seq=%s",
                    (file_id, seq),
                )
                row = await cur.fetchone()
            if row is None:
                async with self.pool.connection() as conn:
                    cur = await conn.execute("SELECT 1 FROM batch_blobs WHERE id=%s", (file_id,))
                    if await cur.fetchone() is None:  # deleted while read: not a short file
                        raise FileNotFoundError(file_id)
                return
            yield bytes(row[0])
            seq += 1

    async def delete(self, file_id: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM batch_blobs WHERE id=%s", (file_id,))

    async def sweep_partial(self, older_than_s: float) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "DELETE FROM batch_blobs WHERE NOT complete AND started_at < %s",
                (time.time() - older_than_s,),
            )
