"""Registered schemas in the key store's database, versioned: SQLite or PostgreSQL.

One row per version (``custom_schemas``: SQLite migration 3, PostgreSQL 2): the
definition as vetted (JSON text), the name of the key that created it and when. A version
never changes; ``PUT`` adds the next one, ``DELETE`` removes them all. The store rides on
the key store's connection (the SQLite file, or the PostgreSQL pool), so a deployment has
one database and ``keys migrate`` migrates both.

    store = schema_store_for(access.keys)
    stored = await store.create("bill_of_lading", definition, created_by="alice")
    latest = await store.get("bill_of_lading")          # or get(name, version=1)
"""

from __future__ import annotations

import asyncio
import builtins
import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Protocol

from ..auth.backend import KeyBackend, KeyStoreUnavailable

__all__ = [
    "SchemaExists",
    "SchemaStore",
    "StoredSchema",
    "schema_store_for",
]


class SchemaExists(Exception):
    """A schema by this name is registered already."""


@dataclass(frozen=True)
class StoredSchema:
    name: str
    version: int
    definition: dict[str, Any]
    created_by: str
    created_at: float


class SchemaStore(Protocol):
    async def get(self, name: str, version: int | None = None) -> StoredSchema | None:
        """The version asked for, or the latest; None if there is none."""
        ...

    async def create(self, name: str, definition: dict[str, Any], created_by: str) -> StoredSchema:
        """Version 1; `SchemaExists` if the name is taken."""
        ...

    async def add_version(
        self, name: str, definition: dict[str, Any], created_by: str
    ) -> StoredSchema | None:
        """The next version; None if no schema has this name."""
        ...

    async def delete(self, name: str) -> int:
        """Remove every version; how many there were."""
        ...

    async def latest_all(self) -> builtins.list[StoredSchema]:
        """The latest version of every registered schema, by name."""
        ...


def _row(row: tuple[Any, ...]) -> StoredSchema:
    name, version, definition, created_by, created_at = row
    return StoredSchema(name, int(version), json.loads(definition), created_by, float(created_at))


_COLUMNS = "name, version, definition, created_by, created_at"
_LATEST = (
    f"SELECT {_COLUMNS} FROM custom_schemas s WHERE version ="
    " (SELECT max(version) FROM custom_schemas WHERE name = s.name)"
)


class SqliteSchemas:
    """On the SQLite key store's connection (autocommit; inserts are single statements)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    async def get(self, name: str, version: int | None = None) -> StoredSchema | None:
        if version is None:
            row = self.db.execute(_LATEST + " AND name = ?", (name,)).fetchone()
        else:
            row = self.db.execute(
                f"SELECT {_COLUMNS} FROM custom_schemas WHERE name = ? AND version = ?",
                (name, version),
            ).fetchone()
        return _row(row) if row else None

    def _insert(self, name: str, version: int, definition: dict[str, Any], by: str) -> None:
        self.db.execute(
            f"INSERT INTO custom_schemas ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
            (name, version, json.dumps(definition), by, time.time()),
        )

    async def create(self, name: str, definition: dict[str, Any], created_by: str) -> StoredSchema:
        try:
            self._insert(name, 1, definition, created_by)
        except sqlite3.IntegrityError:
            raise SchemaExists(name) from None
        stored = await self.get(name, 1)
        assert stored is not None
        return stored

    async def add_version(
        self, name: str, definition: dict[str, Any], created_by: str
    ) -> StoredSchema | None:
        for _ in range(5):
            latest = await self.get(name)
            if latest is None:
                return None
            try:
                self._insert(name, latest.version + 1, definition, created_by)
            except sqlite3.IntegrityError:
                continue  # another writer took this version: take the next
            return await self.get(name, latest.version + 1)
        raise KeyStoreUnavailable("could not store a new version: too many concurrent writers")

    async def delete(self, name: str) -> int:
        return self.db.execute("DELETE FROM custom_schemas WHERE name = ?", (name,)).rowcount

    async def latest_all(self) -> builtins.list[StoredSchema]:
        return [_row(r) for r in self.db.execute(_LATEST + " ORDER BY name").fetchall()]


_PG_COLUMNS = "name, version, definition, created_by, extract(epoch FROM created_at)::float8"
_PG_LATEST = (
    f"SELECT {_PG_COLUMNS} FROM custom_schemas s WHERE version ="
    " (SELECT max(version) FROM custom_schemas WHERE name = s.name)"
)


class PostgresSchemas:
    """On the PostgreSQL key store's pool (`gateway.auth.postgres.PostgresKeys`)."""

    def __init__(self, keys: Any) -> None:
        self.keys = keys

    async def _one(self, sql: str, args: tuple[Any, ...]) -> StoredSchema | None:
        async with self.keys.connection() as conn:
            cur = await conn.execute(sql, args)
            row = await cur.fetchone()
        return _row(row) if row else None

    async def get(self, name: str, version: int | None = None) -> StoredSchema | None:
        if version is None:
            return await self._one(_PG_LATEST + " AND name = %s", (name,))
        return await self._one(
            f"SELECT {_PG_COLUMNS} FROM custom_schemas WHERE name = %s AND version = %s",
            (name, version),
        )

    async def create(self, name: str, definition: dict[str, Any], created_by: str) -> StoredSchema:
        from psycopg import errors

        try:
            stored = await self._one(
                "INSERT INTO custom_schemas (name, version, definition, created_by)"
                f" VALUES (%s, 1, %s, %s) RETURNING {_PG_COLUMNS}",
                (name, json.dumps(definition), created_by),
            )
        except errors.UniqueViolation:
            raise SchemaExists(name) from None
        assert stored is not None
        return stored

    async def add_version(
        self, name: str, definition: dict[str, Any], created_by: str
    ) -> StoredSchema | None:
        from psycopg import errors

        for _ in range(5):
            try:
                return await self._one(
                    "INSERT INTO custom_schemas (name, version, definition, created_by)"
                    " SELECT %s, max(version) + 1, %s, %s FROM custom_schemas WHERE name = %s"
                    f" HAVING count(*) > 0 RETURNING {_PG_COLUMNS}",
                    (name, json.dumps(definition), created_by, name),
                )
            except errors.UniqueViolation:
                await asyncio.sleep(0)
        raise KeyStoreUnavailable("could not store a new version: too many concurrent writers")

    async def delete(self, name: str) -> int:
        async with self.keys.connection() as conn:
            cur = await conn.execute("DELETE FROM custom_schemas WHERE name = %s", (name,))
            return int(cur.rowcount)

    async def latest_all(self) -> builtins.list[StoredSchema]:
        async with self.keys.connection() as conn:
            cur = await conn.execute(_PG_LATEST + " ORDER BY name")
            rows = await cur.fetchall()
        return [_row(r) for r in rows]


def schema_store_for(keys: KeyBackend) -> SchemaStore:
    """The schema store on the same database as ``keys``."""
    from ..auth.store import SqliteKeys

    if isinstance(keys, SqliteKeys):
        return SqliteSchemas(keys.store._db)
    return PostgresSchemas(keys)
