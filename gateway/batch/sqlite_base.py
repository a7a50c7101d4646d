"""The row helpers the Batch API's SQLite store's two halves share (`sqlite.SqliteBatchStore`:
files and batches, `sqlite_queue.SqliteQueue`: validation, the line queue and a batch's end),
and the connection they run on (`gateway.sqlitefile.SqliteBase`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any, TypeVar

from ..sqlitefile import SqliteBase
from .store import BatchRow, CloseReason, FileRow

__all__ = [
    "ACTIVE_KEY",
    "BATCH_COLUMNS",
    "FILE_COLUMNS",
    "RESULT_PAGE",
    "SqliteBase",
    "batch_row",
    "file_row",
    "resumed",
]

T = TypeVar("T")

FILE_COLUMNS = "id, owner, purpose, filename, bytes, created_at, expires_at"
BATCH_COLUMNS = (
    "id, owner, key_name, endpoint, input_file_id, completion_window, status, created_at,"
    " expires_at, metadata, errors, output_file_id, error_file_id, total, completed, failed,"
    " in_progress_at, finalizing_at, completed_at, failed_at, expired_at, cancelling_at,"
    " cancelled_at, schema_version, webhook_url"
)
ACTIVE_KEY = (
    "EXISTS (SELECT 1 FROM api_keys k WHERE k.prefix = b.owner AND k.revoked_at IS NULL"
    " AND (k.expires_at IS NULL OR k.expires_at > :now))"
)
RESULT_PAGE = 500


def file_row(row: Sequence[Any]) -> FileRow:
    return FileRow(*row)


def batch_row(row: Sequence[Any]) -> BatchRow:
    values = list(row)
    values[9] = json.loads(values[9]) if values[9] else None
    values[10] = json.loads(values[10]) if values[10] else None
    return BatchRow(*values)


def resumed(db: sqlite3.Connection, batch: BatchRow, now: float) -> CloseReason | None:
    """Why a batch found in ``finalizing`` (its gateway died while ending it) ends: a stop
    (cancel, revoked key) left ``cancelling_at``; unfinished lines past the window expire."""
    if batch.status != "finalizing":
        return None
    if batch.cancelling_at is not None:
        return "cancelled"
    unfinished = db.execute(
        "SELECT 1 FROM batch_lines WHERE batch_id=? AND state IN ('queued', 'leased') LIMIT 1",
        (batch.id,),
    ).fetchone()
    return "expired" if unfinished and batch.expires_at <= now else "done"
