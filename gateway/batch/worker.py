"""The claim loop: batch lines leased from the store and run in the gateway process.

``BatchWorker.run()`` is a lifespan task of the app. It does four things, all through the
``BatchStore`` interface, so the same loop serves any implementation of it:

* **validate** new batches (``validating`` → ``in_progress`` with their lines queued, or
  ``failed`` with ``errors``), one at a time, leased so a crash mid-way is resumed;
* **claim** runnable lines, as many as there are free background slots
  (``GATEWAY_BACKGROUND_MAX_IN_FLIGHT`` × replicas), each with a lease that its task renews
  every third of ``GATEWAY_BATCH_LEASE_S``; a line whose gateway was killed is claimed again
  once its lease lapses, and a result is written only under the lease that ran it, once;
* **retry** a line the engine could not answer (unreachable, 5xx, timeout): it goes back to
  the queue after ``GATEWAY_BATCH_RETRY_BACKOFF_S`` × 2^retries (at most 60 s) and the whole
  loop pauses as long, so an engine that is restarting is not hammered; after
  ``GATEWAY_BATCH_RETRY_MAX`` retries the line goes to the error file with the last error;
* **finish** batches (``store.close_due``): every line done, cancelled, expired or of a
  revoked key. Unfinished lines go to the error file (``batch_expired``, ``batch_cancelled``,
  ``key_revoked``); the output and error files are written in input order, under ids derived
  from the batch's, so finishing again after a crash rewrites the same files. Files past
  ``GATEWAY_FILES_TTL_S`` are deleted for good; the queue's gauges are refreshed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from ..claimloop import ClaimLoop
from ..metrics import GatewayMetrics
from ..settings import Settings
from .blobs import FileBlobs
from .lines import EngineTrouble, LineRunner, output_line
from .store import BatchRow, BatchStore, CloseReason, FileRow, InputLine, Unit
from .validate import read_lines

__all__ = ["BACKOFF_CAP_S", "BatchWorker", "result_file_ids"]

log = logging.getLogger("gateway.batch")

BACKOFF_CAP_S = 60.0
SWEEP_EVERY_S = 60.0
PARTIAL_AGE_S = 86_400.0

_STOPPED: dict[CloseReason, tuple[str, str]] = {
    "expired": (
        "batch_expired",
        "This line was not run before the batch's completion window ended.",
    ),
    "cancelled": ("batch_cancelled", "This line was not run: the batch was cancelled."),
    "key_inactive": ("key_revoked", "This line was not run: the batch's API key was revoked."),
}
_FINAL = {
    "done": "completed",
    "expired": "expired",
    "cancelled": "cancelled",
    "key_inactive": "cancelled",
}


def result_file_ids(batch_id: str) -> tuple[str, str]:
    """The output and error file ids of a batch (fixed, so a repeated finish overwrites)."""
    stem = batch_id.removeprefix("batch_")
    return f"file-{stem}-output", f"file-{stem}-errors"


class BatchWorker(ClaimLoop[Unit]):
    """Runs the batch queue of one gateway process (see the module docstring)."""

    def __init__(
        self,
        store: BatchStore,
        blobs: FileBlobs,
        runner: LineRunner,
        settings: Settings,
        metrics: GatewayMetrics,
        capacity: int,
    ) -> None:
        super().__init__(store, settings, capacity, "batch line", log)
        self.store = store
        self.blobs = blobs
        self.runner = runner
        self.metrics = metrics
        self._last_sweep = 0.0

    # --- lines --------------------------------------------------------------------------
    async def _work(self, unit: Unit) -> None:
        keeper = asyncio.create_task(self._keep_lease(unit))
        try:
            outcome = await self.runner.run(unit)
        except EngineTrouble as trouble:
            error = trouble.error
            if unit.retries < self.settings.batch_retry_max:
                delay = self._backoff(unit.retries)
                self.engine_failures += 1
                pause = self._backoff(self.engine_failures - 1)
                self.paused_until = max(self.paused_until, time.time() + pause)
                await self.store.retry_later(unit, time.time() + delay)
                return
            line = output_line(unit.custom_id, (error.status, "-", error.body()))
            await self.store.finish(unit, line, failed=True)
            return
        finally:
            keeper.cancel()
        self.engine_failures = 0
        line = output_line(unit.custom_id, (outcome.status_code, outcome.request_id, outcome.body))
        await self.store.finish(unit, line, failed=outcome.failed)

    def _backoff(self, retries: int) -> float:
        return float(min(self.settings.batch_retry_backoff_s * 2**retries, BACKOFF_CAP_S))

    # --- batches ------------------------------------------------------------------------
    async def _housekeeping_loop(self) -> None:
        while True:
            try:
                await self.housekeeping()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("batch housekeeping failed: %s", type(exc).__name__, exc_info=exc)
            await asyncio.sleep(self.settings.batch_poll_s)

    async def housekeeping(self) -> None:
        """One round: validate new batches, finish due ones, sweep expired files, gauges."""
        settings = self.settings
        while (
            batch := await self.store.claim_validation(time.time(), settings.batch_lease_s)
        ) is not None:
            await self.validate(batch)
            self.wake.set()
        for batch, reason in await self.store.close_due(time.time(), settings.batch_lease_s):
            await self.finish_batch(batch, reason)
        now = time.time()
        if now - self._last_sweep >= min(SWEEP_EVERY_S, settings.files_ttl_s):
            self._last_sweep = now
            for row in await self.store.take_expired_files(now):
                await self.blobs.delete(row.id)
            await self.blobs.sweep_partial(PARTIAL_AGE_S)
        depth, oldest = await self.store.queue_stats(now)
        self.metrics.queue_depth.labels(kind="batch_line").set(depth)
        self.metrics.queue_oldest_age.labels(kind="batch_line").set(oldest)

    async def validate(self, batch: BatchRow) -> None:
        """Read the batch's input file: its lines queued and the batch started, or the batch
        failed with the errors found."""
        now = time.time()
        gone = {
            "code": "file_not_found",
            "message": "the input file is gone",
            "param": "input_file_id",
            "line": None,
        }
        if await self.store.get_file(batch.owner, batch.input_file_id) is None:
            await self.store.fail_validation(batch.id, [gone], now)
            return

        async def store_lines(lines: list[InputLine]) -> None:
            await self.store.add_lines(batch.id, lines, now)

        try:
            total, errors = await read_lines(
                self.blobs.read(batch.input_file_id),
                batch.endpoint,
                self.settings,
                store_lines,
                batch.schema_version,
            )
        except FileNotFoundError:
            total, errors = 0, [gone]
        if errors:
            await self.store.fail_validation(batch.id, errors, time.time())
        else:
            await self.store.start_batch(batch.id, total, time.time())

    async def finish_batch(self, batch: BatchRow, reason: CloseReason) -> None:
        """Close what is unfinished, write the result files, set the final status; the
        batch's lease is kept meanwhile, so no other finisher writes the same files."""
        keeper = asyncio.create_task(self._keep_finishing(batch.id))
        try:
            await self._finish(batch, reason)
        finally:
            keeper.cancel()

    async def _keep_finishing(self, batch_id: str) -> None:
        lease = self.settings.batch_lease_s
        while True:
            await asyncio.sleep(lease / 3)
            try:
                await self.store.keep_finishing(batch_id, time.time() + lease)
            except Exception as exc:
                log.warning("batch lease renewal failed: %s", type(exc).__name__)

    async def _finish(self, batch: BatchRow, reason: CloseReason) -> None:
        current = await self.store.get_batch(batch.owner, batch.id)
        if current is None or current.status != "finalizing":
            return  # ended meanwhile: its files are written, never rewritten empty
        if reason in _STOPPED:
            code, message = _STOPPED[reason]

            def stopped(custom_id: str, line: int) -> str:
                return output_line(custom_id, None, {"code": code, "message": message})

            await self.store.close_unfinished(batch.id, stopped)
        now = time.time()
        output_id, error_id = result_file_ids(batch.id)
        files: list[FileRow] = []
        ids: dict[bool, str | None] = {}
        for failed, file_id, name in ((False, output_id, "output"), (True, error_id, "errors")):
            counted = [0]
            size = await self.blobs.save(
                file_id, self._result_lines(batch.id, failed, counted), limit=1 << 62
            )
            if counted[0]:
                files.append(
                    FileRow(
                        file_id,
                        batch.owner,
                        "batch_output",
                        f"{batch.id}_{name}.jsonl",
                        size,
                        now,
                        now + self.settings.files_ttl_s,
                    )
                )
                ids[failed] = file_id
            else:
                await self.blobs.delete(file_id)
                ids[failed] = None
        status: Any = _FINAL[reason]
        await self.store.end_batch(batch.id, status, files, ids[False], ids[True], time.time())

    async def _result_lines(
        self, batch_id: str, failed: bool, counted: list[int]
    ) -> AsyncIterator[bytes]:
        async for is_failed, line in self.store.results(batch_id):
            if is_failed == failed:
                counted[0] += 1
                yield line.encode() + b"\n"
