"""Versioned schema of the key store, one ordered list per database.

A migration is applied once, in order, inside one transaction with the record of its version,
so a failed upgrade leaves the previous schema intact. Never edit a released migration: append
the next version.

* SQLite keeps the version in ``PRAGMA user_version``; ``BEGIN IMMEDIATE`` makes concurrent
  openers (several workers, the CLI) wait for each other, so every ``KeyStore`` migrates on
  open. Version 1 uses ``IF NOT EXISTS``, so files from before versioning upgrade in place.
* PostgreSQL keeps them in ``schema_migrations``; a transaction-scoped advisory lock lets
  several replicas start at once, and DDL is transactional there, so each replica may migrate
  on start (``GATEWAY_KEYS_MIGRATE_ON_START``) or a deploy step may run
  ``python -m gateway keys migrate`` first.

    migrate_sqlite(sqlite3.connect("keys.db"))        # -> versions applied now
    await migrate_postgres(conn)                        # psycopg.AsyncConnection
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "Migration",
    "POSTGRES_MIGRATIONS",
    "SQLITE_MIGRATIONS",
    "migrate_postgres",
    "migrate_sqlite",
    "open_sqlite",
    "postgres_version",
    "sqlite_version",
]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


SQLITE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "api_keys",
        """
        CREATE TABLE IF NOT EXISTS api_keys (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            prefix TEXT NOT NULL UNIQUE,
            hash TEXT NOT NULL,
            scopes TEXT NOT NULL,
            rpm INTEGER,
            max_concurrent INTEGER,
            expires_at REAL,
            revoked_at REAL,
            created_at REAL NOT NULL
        );
        CREATE UNIQUE INDEX IF NOT EXISTS api_keys_active_name ON api_keys(name)
            WHERE revoked_at IS NULL;
        """,
    ),
    Migration(
        2,
        "batch_api",
        # The Batch API (gateway/batch/sqlite.py): files, batches and the queue of lines.
        # ``owner`` is the key's prefix; a line's ``id`` is its idempotency key.
        """
        CREATE TABLE batch_files (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            purpose TEXT NOT NULL,
            filename TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL
        );
        CREATE INDEX batch_files_owner ON batch_files(owner, created_at);
        CREATE INDEX batch_files_expiry ON batch_files(expires_at);
        CREATE TABLE batches (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            owner TEXT NOT NULL,
            key_name TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            input_file_id TEXT NOT NULL,
            completion_window TEXT NOT NULL,
            status TEXT NOT NULL,
            metadata TEXT,
            errors TEXT,
            output_file_id TEXT,
            error_file_id TEXT,
            total INTEGER NOT NULL DEFAULT 0,
            completed INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            lease_until REAL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            in_progress_at REAL,
            finalizing_at REAL,
            completed_at REAL,
            failed_at REAL,
            expired_at REAL,
            cancelling_at REAL,
            cancelled_at REAL
        );
        CREATE INDEX batches_owner ON batches(owner, seq);
        CREATE INDEX batches_status ON batches(status);
        CREATE TABLE batch_lines (
            id TEXT PRIMARY KEY,
            batch_id TEXT NOT NULL,
            line INTEGER NOT NULL,
            custom_id TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL,
            retries INTEGER NOT NULL DEFAULT 0,
            token TEXT,
            lease_until REAL,
            not_before REAL NOT NULL DEFAULT 0,
            queued_at REAL NOT NULL,
            failed INTEGER,
            result TEXT
        );
        CREATE INDEX batch_lines_batch ON batch_lines(batch_id, line);
        CREATE INDEX batch_lines_runnable ON batch_lines(state, not_before, queued_at)
        """,
    ),
    Migration(
        3,
        "custom_schemas",
        """
        CREATE TABLE IF NOT EXISTS custom_schemas (
            name TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            definition TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (name, version)
        );
        """,
    ),
    Migration(
        4,
        "batch_schema_version",
        # An extraction batch pins its schema's version when it is created (custom schemas).
        "ALTER TABLE batches ADD COLUMN schema_version INTEGER",
    ),
    Migration(
        5,
        "extraction_jobs",
        # Async extraction jobs (gateway/jobs/sqlite.py): a job and its units of work (a
        # page range each, or the whole input). ``owner`` is the key's prefix; a unit's
        # ``id`` (``<job>:<n>``) is its idempotency key.
        """
        CREATE TABLE jobs (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            owner TEXT NOT NULL,
            key_name TEXT NOT NULL,
            specs TEXT NOT NULL,
            multi INTEGER NOT NULL,
            request TEXT NOT NULL,
            num_crops INTEGER NOT NULL,
            source TEXT NOT NULL,
            mode TEXT NOT NULL,
            webhook_url TEXT,
            idempotency_key TEXT,
            fingerprint TEXT NOT NULL,
            status TEXT NOT NULL,
            planned INTEGER NOT NULL,
            page_count INTEGER,
            pages_total INTEGER NOT NULL DEFAULT 0,
            pages_done INTEGER NOT NULL DEFAULT 0,
            result TEXT,
            error TEXT,
            lease_until REAL,
            created_at REAL NOT NULL,
            completed_at REAL,
            expires_at REAL NOT NULL
        );
        CREATE INDEX jobs_owner ON jobs(owner, seq);
        CREATE INDEX jobs_status ON jobs(status);
        CREATE INDEX jobs_expiry ON jobs(expires_at);
        CREATE UNIQUE INDEX jobs_idempotency ON jobs(owner, idempotency_key)
            WHERE idempotency_key IS NOT NULL;
        CREATE TABLE job_units (
            id TEXT PRIMARY KEY,
            job_id TEXT NOT NULL,
            n INTEGER NOT NULL,
            pages TEXT NOT NULL,
            count INTEGER NOT NULL,
            state TEXT NOT NULL,
            retries INTEGER NOT NULL DEFAULT 0,
            token TEXT,
            lease_until REAL,
            not_before REAL NOT NULL DEFAULT 0,
            queued_at REAL NOT NULL,
            result TEXT
        );
        CREATE INDEX job_units_job ON job_units(job_id, n);
        CREATE INDEX job_units_runnable ON job_units(state, not_before, queued_at)
        """,
    ),
    Migration(
        6,
        "webhooks",
        # Signed webhooks (gateway/webhooks): a key's own signing secret (kept as is: it must
        # sign, so it cannot be hashed), a batch's target URL, and the queue of deliveries.
        # A delivery's ``id`` is its ``webhook-id``, the same on every retry.
        """
        ALTER TABLE api_keys ADD COLUMN webhook_secret TEXT;
        ALTER TABLE batches ADD COLUMN webhook_url TEXT;
        CREATE TABLE webhook_deliveries (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            url TEXT NOT NULL,
            event_type TEXT NOT NULL,
            object_id TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            token TEXT,
            lease_until REAL,
            not_before REAL NOT NULL DEFAULT 0,
            queued_at REAL NOT NULL,
            ended_at REAL,
            last_error TEXT
        );
        CREATE INDEX webhook_deliveries_runnable
            ON webhook_deliveries(state, not_before, queued_at)
        """,
    ),
)


def _procrastinate_schema() -> str:
    """procrastinate's own schema (its jobs, workers and events tables and functions), as the
    pinned version ships it: applied once, by our migration step, inside its transaction. A
    later procrastinate upgrade appends its migration files as new versions here."""
    from procrastinate.schema import SchemaManager

    return str(SchemaManager.get_schema())


POSTGRES_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "api_keys",
        """
        CREATE TABLE api_keys (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name TEXT NOT NULL CHECK (name <> ''),
            prefix TEXT NOT NULL UNIQUE,
            hash TEXT NOT NULL,
            scopes TEXT NOT NULL,
            rpm INTEGER CHECK (rpm >= 1),
            max_concurrent INTEGER CHECK (max_concurrent >= 1),
            expires_at TIMESTAMPTZ,
            revoked_at TIMESTAMPTZ,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
        """,
    ),
    Migration(
        2,
        "custom_schemas",
        """
        CREATE TABLE custom_schemas (
            name TEXT NOT NULL CHECK (name <> ''),
            version INTEGER NOT NULL CHECK (version >= 1),
            definition TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (name, version)
        );
        """,
    ),
    Migration(
        3,
        "batch_api",
        # The Batch API on PostgreSQL (gateway/batch/pg_store.py): the SQLite tables of
        # versions 2 and 4, times kept as epoch seconds like there; file bytes as chunked rows
        # (pg_blobs.py); then procrastinate's schema (its queue of batch-line jobs).
        """
        CREATE TABLE batch_files (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            purpose TEXT NOT NULL,
            filename TEXT NOT NULL,
            bytes BIGINT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX batch_files_owner ON batch_files (owner, created_at);
        CREATE INDEX batch_files_expiry ON batch_files (expires_at);
        CREATE TABLE batches (
            seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            key_name TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            input_file_id TEXT NOT NULL,
            completion_window TEXT NOT NULL,
            status TEXT NOT NULL,
            metadata TEXT,
            errors TEXT,
            output_file_id TEXT,
            error_file_id TEXT,
            total INTEGER NOT NULL DEFAULT 0,
            completed INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            lease_until DOUBLE PRECISION,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            in_progress_at DOUBLE PRECISION,
            finalizing_at DOUBLE PRECISION,
            completed_at DOUBLE PRECISION,
            failed_at DOUBLE PRECISION,
            expired_at DOUBLE PRECISION,
            cancelling_at DOUBLE PRECISION,
            cancelled_at DOUBLE PRECISION,
            schema_version INTEGER
        );
        CREATE INDEX batches_owner ON batches (owner, seq);
        CREATE INDEX batches_status ON batches (status);
        CREATE TABLE batch_lines (
            id TEXT PRIMARY KEY,
            batch_id TEXT NOT NULL,
            line INTEGER NOT NULL,
            custom_id TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL,
            retries INTEGER NOT NULL DEFAULT 0,
            token TEXT,
            lease_until DOUBLE PRECISION,
            not_before DOUBLE PRECISION NOT NULL DEFAULT 0,
            queued_at DOUBLE PRECISION NOT NULL,
            failed BOOLEAN,
            result TEXT
        );
        CREATE INDEX batch_lines_batch ON batch_lines (batch_id, line);
        CREATE INDEX batch_lines_runnable ON batch_lines (state, not_before, queued_at);
        CREATE TABLE batch_blobs (
            id TEXT PRIMARY KEY,
            complete BOOLEAN NOT NULL DEFAULT false,
            started_at DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE batch_blob_chunks (
            blob_id TEXT NOT NULL REFERENCES batch_blobs (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            data BYTEA NOT NULL,
            PRIMARY KEY (blob_id, seq)
        );
        """
        + _procrastinate_schema(),
    ),
    Migration(
        4,
        "webhook_secret",
        # A key's own webhook signing secret (gateway/webhooks), kept as is: it must sign.
        "ALTER TABLE api_keys ADD COLUMN webhook_secret TEXT",
    ),
    Migration(
        5,
        "jobs_and_webhooks",
        # Async extraction jobs (gateway/jobs/pg_store.py) and webhook deliveries
        # (gateway/webhooks/pg_store.py) on PostgreSQL: SQLite's versions 5 and 6, times kept
        # as epoch seconds like there, and the batch's target URL (versions 3 and 4 lacked it).
        """
        ALTER TABLE batches ADD COLUMN webhook_url TEXT;
        CREATE TABLE jobs (
            seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            key_name TEXT NOT NULL,
            specs TEXT NOT NULL,
            multi INTEGER NOT NULL,
            request TEXT NOT NULL,
            num_crops INTEGER NOT NULL,
            source TEXT NOT NULL,
            mode TEXT NOT NULL,
            webhook_url TEXT,
            idempotency_key TEXT,
            fingerprint TEXT NOT NULL,
            status TEXT NOT NULL,
            planned INTEGER NOT NULL,
            page_count INTEGER,
            pages_total INTEGER NOT NULL DEFAULT 0,
            pages_done INTEGER NOT NULL DEFAULT 0,
            result TEXT,
            error TEXT,
            lease_until DOUBLE PRECISION,
            created_at DOUBLE PRECISION NOT NULL,
            completed_at DOUBLE PRECISION,
            expires_at DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX jobs_owner ON jobs (owner, seq);
        CREATE INDEX jobs_status ON jobs (status);
        CREATE INDEX jobs_expiry ON jobs (expires_at);
        CREATE UNIQUE INDEX jobs_idempotency ON jobs (owner, idempotency_key)
            WHERE idempotency_key IS NOT NULL;
        CREATE TABLE job_units (
            id TEXT PRIMARY KEY,
            job_id TEXT NOT NULL,
            n INTEGER NOT NULL,
            pages TEXT NOT NULL,
            count INTEGER NOT NULL,
            state TEXT NOT NULL,
            retries INTEGER NOT NULL DEFAULT 0,
            token TEXT,
            lease_until DOUBLE PRECISION,
            not_before DOUBLE PRECISION NOT NULL DEFAULT 0,
            queued_at DOUBLE PRECISION NOT NULL,
            result TEXT
        );
        CREATE INDEX job_units_job ON job_units (job_id, n);
        CREATE INDEX job_units_runnable ON job_units (state, not_before, queued_at);
        CREATE TABLE webhook_deliveries (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            url TEXT NOT NULL,
            event_type TEXT NOT NULL,
            object_id TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            token TEXT,
            lease_until DOUBLE PRECISION,
            not_before DOUBLE PRECISION NOT NULL DEFAULT 0,
            queued_at DOUBLE PRECISION NOT NULL,
            ended_at DOUBLE PRECISION,
            last_error TEXT
        );
        CREATE INDEX webhook_deliveries_runnable
            ON webhook_deliveries (state, not_before, queued_at);
        """,
    ),
)

# pg_advisory_xact_lock key: any constant the gateway alone uses ("vsgw" in ASCII).
_PG_LOCK = 0x76736777


def open_sqlite(path: Path | str) -> sqlite3.Connection:
    """The key store's SQLite file, created if new and migrated: WAL, so several processes
    share it, a busy timeout instead of instant "database is locked" errors, and one
    connection usable from worker threads (its user serialises the calls). The key store
    and the Batch API's store open it the same way."""
    path = Path(path)
    if path.parent != Path(""):
        path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=5000")
    migrate_sqlite(db)
    return db


def sqlite_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate_sqlite(
    db: sqlite3.Connection, migrations: tuple[Migration, ...] = SQLITE_MIGRATIONS
) -> list[int]:
    """Apply what ``db`` lacks (``db`` in autocommit mode, ``isolation_level=None``)."""
    if sqlite_version(db) >= migrations[-1].version:
        return []
    applied: list[int] = []
    db.execute("BEGIN IMMEDIATE")
    try:
        current = sqlite_version(db)
        for step in migrations:
            if step.version > current:
                for statement in step.sql.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {int(step.version)}")
                applied.append(step.version)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return applied


async def postgres_version(conn: psycopg.AsyncConnection[Any]) -> int:
    """The newest applied version, 0 for an empty database."""
    cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    if not row or not row[0]:
        return 0
    cur = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate_postgres(
    conn: psycopg.AsyncConnection[Any],
    migrations: tuple[Migration, ...] = POSTGRES_MIGRATIONS,
) -> list[int]:
    """Apply what the database lacks, serialised between replicas by an advisory lock."""
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK,))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        current = await postgres_version(conn)
        for step in migrations:
            if step.version > current:
                await conn.execute(step.sql.encode())
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (step.version, step.name),
                )
                applied.append(step.version)
    return applied
