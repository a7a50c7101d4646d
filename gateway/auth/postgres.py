"""API keys in PostgreSQL, for many gateway replicas: the same records and rules as the
SQLite ``KeyStore`` (hash only, prefix lookup, constant-time compare), behind ``KeyBackend``.

One ``psycopg_pool.AsyncConnectionPool`` per process. Each connection is checked when it is
taken from the pool (one round trip, and only on key-cache misses), so connections broken by a
database restart are replaced rather than failing a request, and the gateway recovers by
itself when the database returns. Anything that means "the database cannot be reached"
becomes ``KeyStoreUnavailable``; the caller decides what a request gets then (see
``cache.KeyCache``).

    store = PostgresKeys("postgresql://gw:secret@db:5432/gateway")
    await store.migrate()
    key = await store.create("alice", rpm=60)
"""

from __future__ import annotations

import builtins
import hmac
import logging
import math
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import psycopg
from psycopg import errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from .backend import KeyStoreUnavailable
from .keys import (
    KEY_PATTERN,
    PREFIX_LEN,
    KeyRecord,
    KeyStoreError,
    check_new_key,
    hash_key,
    new_key,
)
from .migrations import POSTGRES_MIGRATIONS, migrate_postgres, postgres_version

__all__ = ["PostgresKeys"]

log = logging.getLogger("gateway.keys")

_SELECT = (
    "SELECT name, prefix, hash, scopes, rpm, max_concurrent,"
    " extract(epoch FROM expires_at)::float8, extract(epoch FROM revoked_at)::float8,"
    " extract(epoch FROM created_at)::float8 FROM api_keys"
)
_RETURNING = (
    " RETURNING name, prefix, hash, scopes, rpm, max_concurrent,"
    " extract(epoch FROM expires_at)::float8, extract(epoch FROM revoked_at)::float8,"
    " extract(epoch FROM created_at)::float8"
)


class PostgresKeys:
    """``KeyBackend`` on PostgreSQL. ``timeout_s`` bounds connecting and waiting for a pooled
    connection, so an unreachable database costs a request at most that long."""

    def __init__(self, url: str, *, pool_size: int = 10, timeout_s: float = 2.0) -> None:
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            timeout=timeout_s,
            open=False,
            check=AsyncConnectionPool.check_connection,
            kwargs={"autocommit": True, "connect_timeout": max(2, math.ceil(timeout_s))},
            name="gateway-keys",
        )
        self._opened = False

    async def open(self) -> None:
        """Start the pool without waiting for a connection (the database may be down now)."""
        if not self._opened:
            self._opened = True
            await self.pool.open(wait=False)

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        await self.open()
        try:
            async with self.pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            reason = _reason(exc)
            raise KeyStoreUnavailable(f"the key database cannot be reached: {reason}") from exc

    def connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        """A pooled autocommit connection, for the other tables of this database (registered
        schemas, `gateway.custom.store`); an outage raises ``KeyStoreUnavailable``."""
        return self._conn()

    async def lookup(self, key: str) -> KeyRecord | None:
        if not KEY_PATTERN.fullmatch(key):
            return None
        async with self._conn() as conn:
            cur = await conn.execute(_SELECT + " WHERE prefix = %s", (key[:PREFIX_LEN],))
            row = await cur.fetchone()
        if row is None:
            return None
        record = KeyRecord.from_row(row)
        if not hmac.compare_digest(record.hash, hash_key(key)):
            return None
        return record

    async def create(
        self,
        name: str,
        *,
        scopes: Iterable[str] = ("chat", "extract"),
        rpm: int | None = None,
        max_concurrent: int | None = None,
        expires_at: float | None = None,
    ) -> str:
        scope_set = check_new_key(name, scopes, rpm, max_concurrent)
        async with self._conn() as conn:
            for _ in range(5):
                key = new_key()
                try:
                    await conn.execute(
                        "INSERT INTO api_keys"
                        " (name, prefix, hash, scopes, rpm, max_concurrent, expires_at)"
                        " VALUES (%s, %s, %s, %s, %s, %s, to_timestamp(%s))",
                        (
                            name,
                            key[:PREFIX_LEN],
                            hash_key(key),
                            ",".join(sorted(scope_set)),
                            rpm,
                            max_concurrent,
                            expires_at,
                        ),
                    )
                    return key
                except errors.UniqueViolation as exc:
                    if exc.diag.constraint_name == "api_keys_active_name":
                        raise KeyStoreError(f"an active key named {name!r} exists") from exc
        raise KeyStoreError("could not draw a unique key prefix")  # pragma: no cover

    async def list(self) -> list[KeyRecord]:
        async with self._conn() as conn:
            cur = await conn.execute(_SELECT + " ORDER BY created_at, id")
            rows = await cur.fetchall()
        return [KeyRecord.from_row(row) for row in rows]

    async def revoke(self, name_or_prefix: str) -> KeyRecord:
        column = "prefix" if name_or_prefix.startswith("sk-") else "name"
        async with self._conn() as conn:
            cur = await conn.execute(
                f"UPDATE api_keys SET revoked_at = now() WHERE {column} = %s"  # noqa: S608
                " AND revoked_at IS NULL" + _RETURNING,
                (name_or_prefix,),
            )
            row = await cur.fetchone()
        if row is None:
            raise KeyStoreError(f"no active key with {column} {name_or_prefix!r}")
        return KeyRecord.from_row(row)

    async def set_webhook_secret(self, name_or_prefix: str, secret: str | None) -> KeyRecord:
        column = "prefix" if name_or_prefix.startswith("sk-") else "name"
        async with self._conn() as conn:
            cur = await conn.execute(
                f"UPDATE api_keys SET webhook_secret = %s WHERE {column} = %s"  # noqa: S608
                " AND revoked_at IS NULL" + _RETURNING,
                (secret, name_or_prefix),
            )
            row = await cur.fetchone()
        if row is None:
            raise KeyStoreError(f"no active key with {column} {name_or_prefix!r}")
        return KeyRecord.from_row(row)

    async def webhook_secret(self, prefix: str) -> str | None:
        async with self._conn() as conn:
            cur = await conn.execute(
                "SELECT webhook_secret FROM api_keys WHERE prefix = %s", (prefix,)
            )
            row = await cur.fetchone()
        return None if row is None or row[0] is None else str(row[0])

    async def migrate(self) -> builtins.list[int]:
        async with self._conn() as conn:
            applied = await migrate_postgres(conn)
        if applied:
            log.info("key database migrated to version %d", applied[-1])
        return applied

    async def schema_version(self) -> tuple[int, int]:
        async with self._conn() as conn:
            return await postgres_version(conn), POSTGRES_MIGRATIONS[-1].version

    async def close(self) -> None:
        if self._opened:
            await self.pool.close()


def _reason(exc: BaseException) -> str:
    """The first line of the driver's message, which names host and port, never the password."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
