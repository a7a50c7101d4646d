"""One interface to the key store, two implementations: SQLite (the embedded default, one
machine) and PostgreSQL (many replicas), chosen by ``GATEWAY_KEYS_DB``.

The interface is async because PostgreSQL is a network hop; the SQLite one answers from a
local file in microseconds, so it runs its calls inline rather than in a thread. Both raise
``KeyStoreError`` for requests they cannot honour and ``KeyStoreUnavailable`` when the database
cannot be reached, which the gateway turns into a 503, never a 500.

    store = open_key_store("postgresql://gw@db/gateway")   # or a file path
    await store.migrate()
    key = await store.create("alice", rpm=60)
    record = await store.lookup(key)
    await store.close()
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from pathlib import Path

from .backend import KeyBackend, KeyStoreUnavailable
from .keys import KeyRecord, KeyStore
from .migrations import SQLITE_MIGRATIONS, migrate_sqlite, sqlite_version

__all__ = [
    "KeyBackend",
    "KeyStoreUnavailable",
    "SqliteKeys",
    "is_postgres_url",
    "open_key_store",
]


class SqliteKeys:
    """``KeyBackend`` over the SQLite ``KeyStore`` (which migrates the file when it opens)."""

    def __init__(self, path: Path | str | KeyStore) -> None:
        self.store = path if isinstance(path, KeyStore) else KeyStore(path)

    async def lookup(self, key: str) -> KeyRecord | None:
        return self.store.lookup(key)

    async def create(
        self,
        name: str,
        *,
        scopes: Iterable[str] = ("chat", "extract"),
        rpm: int | None = None,
        max_concurrent: int | None = None,
        expires_at: float | None = None,
    ) -> str:
        return self.store.create(
            name, scopes=scopes, rpm=rpm, max_concurrent=max_concurrent, expires_at=expires_at
        )

    async def list(self) -> builtins.list[KeyRecord]:
        return self.store.list()

    async def revoke(self, name_or_prefix: str) -> KeyRecord:
        return self.store.revoke(name_or_prefix)

    async def set_webhook_secret(self, name_or_prefix: str, secret: str | None) -> KeyRecord:
        return self.store.set_webhook_secret(name_or_prefix, secret)

    async def webhook_secret(self, prefix: str) -> str | None:
        return self.store.webhook_secret(prefix)

    async def migrate(self) -> builtins.list[int]:
        return migrate_sqlite(self.store._db)

    async def schema_version(self) -> tuple[int, int]:
        return sqlite_version(self.store._db), SQLITE_MIGRATIONS[-1].version

    async def close(self) -> None:
        self.store.close()


def is_postgres_url(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def open_key_store(
    target: str | Path, *, pool_size: int = 10, timeout_s: float = 2.0
) -> KeyBackend:
    """A PostgreSQL store for a ``postgresql://`` URL, else a SQLite file at ``target``.
    The PostgreSQL pool connects lazily: call ``open()`` on it, or just use it."""
    if is_postgres_url(target):
        from .postgres import PostgresKeys

        return PostgresKeys(str(target), pool_size=pool_size, timeout_s=timeout_s)
    return SqliteKeys(target)
