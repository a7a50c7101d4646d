"""What the Batch API keeps, and the one interface every store of it implements.

``BatchStore`` is the storage and the claim loop's queue behind one small protocol: the
routes and the workers (``worker.py``) call nothing else. ``sqlite.SqliteBatchStore`` is the
embedded default (the key store's SQLite file); ``pg_store.PostgresBatchStore`` implements
the same methods for several replicas (``docs/batch.md``).

The rules an implementation keeps:

* rows belong to an ``owner`` (the key's prefix): every read or change by a client passes
  the owner, and a row of another owner is None (the routes answer 404);
* a unit of work (one batch line) is leased by ``claim`` with a lease time and a fresh
  ``token``; ``finish`` writes its result only while that token holds the lease and the unit
  is not done, so a retried lease never writes a result twice;
* a unit whose lease lapsed (its worker died) is claimable again; a unit of a batch whose
  key was revoked or expired is not claimed (``close_due`` ends that batch).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = [
    "BatchRow",
    "BatchStore",
    "CloseReason",
    "FileRow",
    "InputLine",
    "Unit",
    "new_id",
]

BatchStatus = Literal[
    "validating",
    "failed",
    "in_progress",
    "finalizing",
    "completed",
    "expired",
    "cancelling",
    "cancelled",
]
CloseReason = Literal["done", "cancelled", "expired", "key_inactive"]
"""Why ``close_due`` hands a batch to the finalizer."""


def new_id(prefix: str) -> str:
    """``file-…`` / ``batch_…``: 96 random bits, as unguessable as they need to be (the
    owner check is what protects a row)."""
    return prefix + secrets.token_hex(12)


@dataclass(frozen=True, slots=True)
class FileRow:
    """One stored file: an upload (``purpose`` batch) or a batch's output/error file
    (``batch_output``)."""

    id: str
    owner: str
    purpose: str
    filename: str
    bytes: int
    created_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class BatchRow:
    """One batch as stored; ``objects.batch_object`` turns it into OpenAI's Batch object."""

    id: str
    owner: str
    key_name: str
    endpoint: str
    input_file_id: str
    completion_window: str
    status: BatchStatus
    created_at: float
    expires_at: float
    metadata: dict[str, str] | None = None
    errors: dict[str, Any] | None = None
    """``{"object": "list", "data": [{code, message, param, line}]}`` after a failed
    validation."""
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    in_progress_at: float | None = None
    finalizing_at: float | None = None
    completed_at: float | None = None
    failed_at: float | None = None
    expired_at: float | None = None
    cancelling_at: float | None = None
    cancelled_at: float | None = None
    schema_version: int | None = None
    """For an extraction batch: the schema's version when the batch was created, which
    every line is read with unless it names its own ``schema_version``."""
    webhook_url: str | None = None
    """Where the batch's end is announced (``batch.completed`` …, ``gateway.webhooks``); the
    event is queued in the same transaction that ends the batch."""


@dataclass(frozen=True, slots=True)
class InputLine:
    """One validated line of a batch's input file."""

    line: int
    """1-based line number in the input file."""
    custom_id: str
    body: str
    """The line's ``body`` as JSON text."""


@dataclass(frozen=True, slots=True)
class Unit:
    """One leased unit of work: a batch line, with what running it needs."""

    id: str
    """``<batch id>:<line>``: the idempotency key of the unit."""
    batch_id: str
    line: int
    custom_id: str
    body: str
    endpoint: str
    owner: str
    key_name: str
    retries: int
    """Engine failures this unit has already been retried after."""
    token: str
    """This lease's token: ``finish``/``retry_later``/``renew`` act only while it holds."""
    max_concurrent: int | None = None
    """The key's limit on calls in flight (background work takes at most one less)."""


class BatchStore(Protocol):
    """Files, batches and the queue of batch lines (see the module docstring)."""

    # --- files --------------------------------------------------------------------------
    async def add_file(self, row: FileRow) -> None: ...

    async def get_file(self, owner: str, file_id: str) -> FileRow | None: ...

    async def list_files(
        self, owner: str, purpose: str | None = None, after: str | None = None, limit: int = 10_000
    ) -> tuple[list[FileRow], bool]:
        """The owner's files, newest first, after the file ``after``; and has_more."""
        ...

    async def delete_file(self, owner: str, file_id: str) -> FileRow | None:
        """Forget the file's row; the caller deletes its bytes. None: no such file."""
        ...

    async def take_expired_files(self, now: float) -> list[FileRow]:
        """Forget every file past its ``expires_at`` and return them (bytes to delete)."""
        ...

    # --- batches ------------------------------------------------------------------------
    async def create_batch(self, row: BatchRow) -> None: ...

    async def get_batch(self, owner: str, batch_id: str) -> BatchRow | None: ...

    async def open_batches(self, endpoint: str) -> int:
        """Batches on ``endpoint``, of any key, not yet ended (validating, in progress,
        finalizing, cancelling): a schema they pin must not be deleted under them."""
        ...

    async def list_batches(
        self, owner: str, after: str | None, limit: int
    ) -> tuple[list[BatchRow], bool]:
        """The owner's batches, newest first, after the batch ``after``; and has_more."""
        ...

    async def cancel_batch(self, owner: str, batch_id: str, now: float) -> BatchRow | None:
        """validating/in_progress → cancelling (others unchanged); the row after."""
        ...

    # --- validation ---------------------------------------------------------------------
    async def claim_validation(self, now: float, lease_s: float) -> BatchRow | None:
        """Lease one batch in ``validating`` (a lapsed lease is taken again)."""
        ...

    async def add_lines(self, batch_id: str, lines: Sequence[InputLine], now: float) -> None:
        """Store validated lines of a batch still ``validating`` (not claimable until
        ``start_batch``; a line stored twice, by a validation retried after a crash, is kept
        once)."""
        ...

    async def start_batch(self, batch_id: str, total: int, now: float) -> None:
        """``validating`` → ``in_progress`` with ``total`` lines (a batch no longer
        validating, such as one cancelled meanwhile, is left alone)."""
        ...

    async def fail_validation(
        self, batch_id: str, errors: list[dict[str, Any]], now: float
    ) -> None:
        """``failed`` with ``errors``; the lines stored so far are dropped; the
        ``batch.failed`` webhook is queued with it if the batch names a ``webhook_url``."""
        ...

    # --- the queue ----------------------------------------------------------------------
    async def claim(self, now: float, lease_s: float, limit: int) -> list[Unit]:
        """Lease up to ``limit`` runnable units (queued and due, or with a lapsed lease) of
        in-progress batches of active keys, oldest first."""
        ...

    async def renew(self, units: Sequence[Unit], until: float) -> None: ...

    async def finish(self, unit: Unit, result: str, failed: bool) -> bool:
        """Record the unit's output line (``failed``: it goes to the error file). False, and
        nothing written, when the lease is no longer this one's or the unit is done."""
        ...

    async def retry_later(self, unit: Unit, not_before: float) -> None:
        """Give the unit back to the queue, due at ``not_before``, one retry more."""
        ...

    async def queue_stats(self, now: float) -> tuple[int, float]:
        """(units queued or leased, age in seconds of the oldest queued unit)."""
        ...

    # --- the end of a batch -------------------------------------------------------------
    async def close_due(self, now: float, lease_s: float) -> list[tuple[BatchRow, CloseReason]]:
        """Batches ready to end: every line done, cancelled with no line leased, past their
        window, or of a revoked/expired key; and batches left in ``finalizing`` by a dead
        worker. Each moves to ``finalizing``, leased for ``lease_s`` to the caller, and is
        returned with why."""
        ...

    async def keep_finishing(self, batch_id: str, until: float) -> None:
        """Extend the caller's lease on a batch it is finishing (``close_due``)."""
        ...

    async def close_unfinished(self, batch_id: str, make_line: Any) -> None:
        """Finish every unfinished line with ``make_line(custom_id, line)`` (an error output
        line), counted as failed."""
        ...

    def results(self, batch_id: str) -> AsyncIterator[tuple[bool, str]]:
        """(failed, output line) of every line, in input order."""
        ...

    async def end_batch(
        self,
        batch_id: str,
        status: BatchStatus,
        files: Sequence[FileRow],
        output_file_id: str | None,
        error_file_id: str | None,
        now: float,
    ) -> None:
        """Add the result files and set the final status with its timestamp; drop the
        lines (their bodies and results are personal data); queue the ``batch.<status>``
        webhook if the batch names a ``webhook_url``, all at once. Only a batch still
        ``finalizing`` ends; one ended already is left as it is."""
        ...

    async def close(self) -> None: ...
