"""The PostgreSQL connection pool the Batch API's store runs on, and what its two halves share
(`pg_store.PostgresBatchStore`: files and batches, `pg_queue.PostgresQueue`: validation, the
line queue and a batch's end). Rows are read with the SQLite store's helpers
(`sqlite_base.batch_row`/`file_row`): the tables of PostgreSQL migration 3 mirror SQLite's,
times kept as epoch seconds in both."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

__all__ = ["ACTIVE_KEY", "Conn", "PostgresBase", "resumed"]

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]

ACTIVE_KEY = (
    "EXISTS (SELECT 1 FROM api_keys k WHERE k.prefix = b.owner AND k.revoked_at IS NULL"
    " AND (k.expires_at IS NULL OR k.expires_at > to_timestamp(%(now)s)))"
)
"""The batch ``b``'s key may still run work (PostgreSQL keeps key times as timestamptz)."""


async def resumed(
    conn: Conn,
    status: str,
    cancelling_at: float | None,
    expires_at: float,
    batch_id: str,
    now: float,
) -> str | None:
    """Why a batch found in ``finalizing`` (its gateway died while ending it) ends, as
    `sqlite_base.resumed` decides it."""
    if status != "finalizing":
        return None
    if cancelling_at is not None:
        return "cancelled"
    cur = await conn.execute(
        "SELECT 1 FROM batch_lines WHERE batch_id=%s AND state IN ('queued', 'leased') LIMIT 1",
        (batch_id,),
    )
    unfinished = await cur.fetchone()
    return "expired" if unfinished and expires_at <= now else "done"


class PostgresBase:
    """A pool on the key database (its own, beside the key store's), autocommit; ``_tx`` runs
    a function inside one transaction."""

    def __init__(self, url: str, *, pool_size: int = 10, timeout_s: float = 5.0) -> None:
        self.url = url
        self.pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=max(2, pool_size),
            timeout=timeout_s,
            open=False,
            check=AsyncConnectionPool.check_connection,
            kwargs={"autocommit": True, "connect_timeout": max(2, math.ceil(timeout_s))},
            name="gateway-batch",
        )

    async def open(self) -> None:
        await self.pool.open(wait=False)

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[Conn]:
        async with self.pool.connection() as conn:
            yield conn

    async def _run(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        async with self._conn() as conn:
            return await fn(conn)

    async def _tx(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        async with self._conn() as conn, conn.transaction():
            return await fn(conn)

    async def _all(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        async with self._conn() as conn:
            cur = await conn.execute(sql.encode(), args)
            return await cur.fetchall()

    async def _one(self, sql: str, args: Any = None) -> tuple[Any, ...] | None:
        rows = await self._all(sql, args)
        return rows[0] if rows else None

    async def _exec(self, sql: str, args: Any = None) -> int:
        async with self._conn() as conn:
            cur = await conn.execute(sql.encode(), args)
            return cur.rowcount

    async def close(self) -> None:
        await self.pool.close()
