"""What an async extraction job keeps, and the one interface every store of it implements.

``JobStore`` is the storage and the job queue behind one small protocol: the routes
(``routes.py``, ``submit.py``) and the claim loop (``worker.py``) call nothing else.
``sqlite.SqliteJobStore`` is the embedded default (the key store's SQLite file, beside the
Batch API's tables); a PostgreSQL implementation for several replicas implements the same
methods (``docs/jobs.md``).

The rules an implementation keeps (the Batch API's, ``gateway.batch.store``):

* a job belongs to an ``owner`` (the key's prefix): a client's read or change passes the
  owner, and another owner's job is None (the routes answer 404);
* a unit of work (a range of pages, or the whole input) is leased by ``claim`` with a fresh
  ``token``; ``finish_unit`` writes its result only while that token holds the lease and the
  unit is not done, so a retried lease never writes a page twice;
* a unit whose lease lapsed (its gateway died) is claimable again; a unit of a revoked or
  expired key is never claimed (``close_inactive`` cancels its jobs);
* planning (counting a document's pages) and finishing (merging the pages) are leased on the
  job row the same way, so a crash in either is resumed by the next claim.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = ["JobMode", "JobRow", "JobStatus", "JobStore", "JobUnit", "UnitPlan", "new_job_id"]

JobStatus = Literal["queued", "in_progress", "completed", "failed", "cancelled"]
JobMode = Literal["pages", "whole"]
"""``pages``: a PDF/TIFF read page by page, in ranges that are units of their own;
``whole``: one unit runs the synchronous pipeline on the input (an image, images, or a
document read by a schema that takes every page in one request)."""

ENDED: tuple[JobStatus, ...] = ("completed", "failed", "cancelled")


def new_job_id() -> str:
    return "job_" + secrets.token_hex(12)


@dataclass(frozen=True, slots=True)
class JobRow:
    """One job as stored; ``objects.job_object`` turns it into the API's job object."""

    id: str
    owner: str
    key_name: str
    specs: list[tuple[str, int]]
    """The schemas, pinned to the version found when the job was submitted."""
    multi: bool
    """``POST /v1/extract`` (several schemas; the result is a multi-schema answer)."""
    request: str
    """The parsed request (`ExtractRequest` / `MultiExtractRequest`) as JSON, the input
    replaced by a placeholder: the input itself lives in ``source``'s blob."""
    num_crops: int
    source: dict[str, Any]
    """``{"blob": id, "kind": "document", "doc_kind": "pdf", "param": …, "owned": bool}`` or
    ``{"blob": id, "kind": "images", "single": bool, "owned": True}``; ``owned``: the blob is
    the job's own (deleted with it), not a ``user_data`` file of the key."""
    mode: JobMode
    fingerprint: str
    """A digest of what was submitted: a repeated ``Idempotency-Key`` must match it."""
    status: JobStatus
    created_at: float
    expires_at: float
    webhook_url: str | None = None
    idempotency_key: str | None = None
    planned: bool = False
    page_count: int | None = None
    pages_total: int = 0
    pages_done: int = 0
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    """``{"status": 4xx/5xx, "body": {"error": {...}}}``: what the synchronous call would
    have answered."""
    completed_at: float | None = None


@dataclass(frozen=True, slots=True)
class UnitPlan:
    """One unit to queue: a page selection (``"9-16"``; ``""`` for a whole-input unit)."""

    pages: str
    count: int


@dataclass(frozen=True, slots=True)
class JobUnit:
    """One leased unit of work, with what running it needs."""

    id: str
    """``<job id>:<n>``: the idempotency key of the unit."""
    job_id: str
    n: int
    pages: str
    count: int
    retries: int
    token: str
    owner: str
    key_name: str
    max_concurrent: int | None = None


class JobStore(Protocol):
    """Jobs and their queue of units (see the module docstring)."""

    async def create_job(self, row: JobRow, units: Sequence[UnitPlan]) -> JobRow:
        """Store a new job (and, for a whole-input job, its unit). With an
        ``idempotency_key`` the owner already used, nothing is stored and that first job
        is returned instead (the caller compares fingerprints)."""
        ...

    async def get_job(self, owner: str, job_id: str) -> JobRow | None: ...

    async def find_idempotent(self, owner: str, key: str) -> JobRow | None: ...

    async def list_jobs(
        self, owner: str, after: str | None, limit: int
    ) -> tuple[list[JobRow], bool]:
        """The owner's jobs, newest first, after the job ``after``; and has_more."""
        ...

    async def cancel_job(
        self, owner: str, job_id: str, error: dict[str, Any], now: float
    ) -> tuple[JobRow | None, bool]:
        """queued/in_progress → cancelled with ``error``, its units dropped; the row after,
        and whether this call ended it."""
        ...

    # --- planning -----------------------------------------------------------------------
    async def claim_planning(self, now: float, lease_s: float) -> JobRow | None:
        """Lease one unplanned ``pages`` job of an active key (a lapsed lease is taken
        again); it becomes ``in_progress``."""
        ...

    async def plan(
        self, job_id: str, page_count: int, units: Sequence[UnitPlan], now: float
    ) -> None:
        """Queue the job's units (once: a job planned already is left alone)."""
        ...

    # --- the queue ----------------------------------------------------------------------
    async def claim(self, now: float, lease_s: float, limit: int) -> list[JobUnit]:
        """Lease up to ``limit`` runnable units of running jobs of active keys, oldest
        first; their jobs become ``in_progress``."""
        ...

    async def renew(self, units: Sequence[JobUnit], until: float) -> None: ...

    async def finish_unit(self, unit: JobUnit, result: str) -> bool:
        """Record the unit's result and count its pages done. False, and nothing written,
        when the lease is no longer this one's (or the job ended)."""
        ...

    async def retry_later(self, unit: JobUnit, not_before: float) -> None: ...

    async def queue_stats(self, now: float) -> tuple[int, float]:
        """(pages queued or running, age in seconds of the oldest queued unit)."""
        ...

    # --- the end of a job ---------------------------------------------------------------
    async def claim_finishing(self, now: float, lease_s: float) -> list[JobRow]:
        """Planned running jobs with every unit done (and none finishing under a live
        lease): each leased to the caller for ``lease_s``."""
        ...

    async def keep_lease(self, job_id: str, until: float) -> None: ...

    async def unit_results(self, job_id: str) -> list[tuple[str, str]]:
        """(pages, result) of every unit, in page order."""
        ...

    async def end_job(
        self,
        job_id: str,
        status: JobStatus,
        result: dict[str, Any] | None,
        error: dict[str, Any] | None,
        now: float,
    ) -> JobRow | None:
        """Set the final status, result or error; drop the units. Only a job not ended yet
        ends (the row after; None if it had ended already)."""
        ...

    async def close_inactive(self, error: dict[str, Any], now: float) -> list[JobRow]:
        """Cancel the unfinished jobs of revoked or expired keys (with ``error``)."""
        ...

    async def take_expired(self, now: float) -> list[JobRow]:
        """Forget every job past its ``expires_at`` and return them (blobs to delete)."""
        ...

    async def close(self) -> None: ...
