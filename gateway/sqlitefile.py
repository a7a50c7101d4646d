"""One connection to the key store's SQLite file for the stores that share it (batches, jobs,
webhook deliveries): used from worker threads (``asyncio.to_thread``) under a lock, with a
write-transaction helper (``BEGIN IMMEDIATE``, so concurrent writers wait their turn instead
of failing half-way)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .auth.migrations import open_sqlite

__all__ = ["SqliteBase"]

T = TypeVar("T")


class SqliteBase:
    """One SQLite file (WAL mode, shared with the key store) and its lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db = open_sqlite(self.path)
        self._lock = threading.Lock()

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return fn(self._db)

        return await asyncio.to_thread(locked)

    async def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` inside one write transaction."""

        def body(db: sqlite3.Connection) -> T:
            db.execute("BEGIN IMMEDIATE")
            try:
                out = fn(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return out

        return await self._run(body)

    async def close(self) -> None:
        await self._run(lambda db: db.close())
