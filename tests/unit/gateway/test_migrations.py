"""SQLite schema versions: files from before versioning upgrade in place, keys intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.auth.keys import KeyStore
from gateway.auth.migrations import SQLITE_MIGRATIONS, Migration, migrate_sqlite, sqlite_version

_BEFORE_VERSIONING = """
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, prefix TEXT NOT NULL UNIQUE, hash TEXT NOT NULL,
    scopes TEXT NOT NULL, rpm INTEGER, max_concurrent INTEGER, expires_at REAL,
    revoked_at REAL, created_at REAL NOT NULL
);
"""


def test_a_file_from_before_versioning_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(_BEFORE_VERSIONING)
    old.execute(
        "INSERT INTO api_keys (name, prefix, hash, scopes, created_at)"
        " VALUES ('alice', 'sk-aaaaaaaaa', 'x', 'chat', 1.0)"
    )
    old.commit()
    assert sqlite_version(old) == 0
    old.close()
    store = KeyStore(path)
    try:
        assert sqlite_version(store._db) == SQLITE_MIGRATIONS[-1].version
        assert [r.name for r in store.list()] == ["alice"]
    finally:
        store.close()


def test_a_failing_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "k.db", isolation_level=None)
    newest = SQLITE_MIGRATIONS[-1].version
    assert migrate_sqlite(db) == [m.version for m in SQLITE_MIGRATIONS]
    broken = (*SQLITE_MIGRATIONS, Migration(newest + 1, "broken", "ALTER TABLE nowhere ADD x"))
    with pytest.raises(sqlite3.OperationalError):
        migrate_sqlite(db, broken)
    assert sqlite_version(db) == newest
    assert migrate_sqlite(db) == []
    db.close()
