"""The API's job object, built from the stored row."""

from __future__ import annotations

from typing import Any

from .store import JobRow

__all__ = ["job_object"]


def job_object(row: JobRow) -> dict[str, Any]:
    """``{"id", "object": "extraction.job", "status", "progress", "result", "error", …}``;
    ``result`` is the body the synchronous call would have answered, ``error`` its error
    (the body's ``error`` object with the ``status`` it came with)."""
    return {
        "id": row.id,
        "object": "extraction.job",
        "status": row.status,
        "progress": {"pages_total": row.pages_total, "pages_done": row.pages_done},
        "result": row.result,
        "error": row.error,
        "created_at": int(row.created_at),
        "completed_at": None if row.completed_at is None else int(row.completed_at),
        "expires_at": int(row.expires_at),
        "schemas": [name for name, _ in row.specs],
        "webhook_url": row.webhook_url,
    }
