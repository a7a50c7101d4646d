"""``PostgresBatchStore``, ``PostgresBlobs`` and ``QueuedBatchWorker``'s recovery on a real
PostgreSQL: leases and results written once, a line job per runnable line, revoked keys,
chunked file bytes streamed in and out."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any, cast

import anyio
import psycopg
import pytest

from gateway.auth.postgres import PostgresKeys
from gateway.batch.blobs import BlobTooLarge
from gateway.batch.pg_blobs import PostgresBlobs
from gateway.batch.pg_queue import LINE_TASK, QUEUE
from gateway.batch.pg_store import PostgresBatchStore
from gateway.batch.pg_worker import QueuedBatchWorker
from gateway.batch.store import BatchRow, FileRow, InputLine, Unit
from gateway.metrics import GatewayMetrics
from gateway.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(db: tuple[str, PostgresKeys]) -> AsyncIterator[PostgresBatchStore]:
    pg = PostgresBatchStore(db[0])
    await pg.open()
    try:
        yield pg
    finally:
        await pg.close()


async def _batch(store: PostgresBatchStore, owner: str, lines: int) -> str:
    now = time.time()
    row = BatchRow(
        id="batch_1",
        owner=owner,
        key_name="alice",
        endpoint="/v1/chat/completions",
        input_file_id="file-1",
        completion_window="24h",
        status="validating",
        created_at=now,
        expires_at=now + 3600,
        schema_version=3,
    )
    await store.create_batch(row)
    inputs = [InputLine(i + 1, f"c{i}", "{}") for i in range(lines)]
    await store.add_lines(row.id, inputs, now)
    await store.add_lines(row.id, inputs[:1], now)  # a retried validation: kept once
    assert await store.claim(now, lease_s=5, limit=10) == []  # still validating
    await store.start_batch(row.id, lines, now)
    return row.id


def _jobs(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT args->>'line_id', status::text FROM procrastinate_jobs"
            " WHERE queue_name=%s AND task_name=%s ORDER BY id",
            (QUEUE, LINE_TASK),
        ).fetchall()
    return [(str(a), str(b)) for a, b in rows]


async def test_starting_a_batch_queues_one_job_per_line(
    db: tuple[str, PostgresKeys], store: PostgresBatchStore
) -> None:
    key = await db[1].create("alice", max_concurrent=3)
    batch_id = await _batch(store, key[:12], lines=3)
    assert _jobs(db[0]) == [(f"{batch_id}:{i}", "todo") for i in (1, 2, 3)]
    batch = await store.get_batch(key[:12], batch_id)
    assert batch is not None and batch.status == "in_progress" and batch.schema_version == 3
    assert await store.get_batch("someone-else", batch_id) is None


async def test_a_line_is_leased_once_and_its_result_written_once(
    db: tuple[str, PostgresKeys], store: PostgresBatchStore
) -> None:
    key = await db[1].create("alice", max_concurrent=3)
    batch_id = await _batch(store, key[:12], lines=2)
    now = time.time()
    first = await store.claim_line(f"{batch_id}:1", now, lease_s=5)
    assert first is not None and first.custom_id == "c0" and first.max_concurrent == 3
    assert await store.claim_line(f"{batch_id}:1", now, lease_s=5) is None  # leased
    second = await store.claim_line(f"{batch_id}:1", now + 6, lease_s=5)  # the lease lapsed
    assert second is not None and second.token != first.token
    assert not await store.finish(first, "stale", failed=False)
    assert await store.finish(second, "fresh", failed=False)
    assert not await store.finish(second, "again", failed=False)
    assert await store.claim_line(f"{batch_id}:1", now + 20, lease_s=5) is None  # done
    [other] = await store.claim(now, lease_s=5, limit=10)  # the protocol's claim: line 2
    with psycopg.connect(db[0], autocommit=True) as conn:  # as if its job had been taken
        conn.execute("DELETE FROM procrastinate_jobs WHERE queueing_lock=%s", (other.id,))
    await store.retry_later(other, now + 30)
    with psycopg.connect(db[0]) as conn:  # deferred again, due at the line's backoff
        [(due,)] = conn.execute(
            "SELECT extract(epoch FROM scheduled_at) FROM procrastinate_jobs"
            " WHERE queueing_lock=%s AND status='todo'",
            (other.id,),
        ).fetchall()
    assert abs(float(due) - (now + 30)) < 0.01
    assert await store.claim_line(other.id, now + 1, lease_s=5) is None  # not yet due
    again = await store.claim_line(other.id, now + 31, lease_s=5)
    assert again is not None and again.retries == 1
    assert await store.finish(again, "error", failed=True)
    assert [r async for r in store.results(batch_id)] == [(False, "fresh"), (True, "error")]
    [(due, reason)] = await store.close_due(time.time(), lease_s=5)
    assert due.id == batch_id and reason == "done"
    assert await store.close_due(time.time(), lease_s=5) == []  # leased to the first caller


async def test_a_revoked_keys_lines_are_not_run(
    db: tuple[str, PostgresKeys], store: PostgresBatchStore
) -> None:
    key = await db[1].create("alice")
    batch_id = await _batch(store, key[:12], lines=2)
    assert await db[1].revoke("alice")
    assert await store.claim_line(f"{batch_id}:1", time.time(), lease_s=5) is None
    [(_, reason)] = await store.close_due(time.time(), lease_s=5)
    assert reason == "key_inactive"


async def test_runnable_lines_without_a_job_are_requeued(
    db: tuple[str, PostgresKeys], store: PostgresBatchStore
) -> None:
    key = await db[1].create("alice")
    batch_id = await _batch(store, key[:12], lines=2)
    now = time.time()
    assert await store.requeue_orphans(now) == 0  # each line has its job
    with psycopg.connect(db[0], autocommit=True) as conn:
        conn.execute("DELETE FROM procrastinate_jobs")
    held = await store.claim_line(f"{batch_id}:1", now, lease_s=5)
    assert held is not None
    assert await store.requeue_orphans(now) == 1  # line 2; line 1 is leased
    assert await store.requeue_orphans(now + 6) == 1  # line 1's lease lapsed
    assert sorted(_jobs(db[0])) == [(f"{batch_id}:1", "todo"), (f"{batch_id}:2", "todo")]


async def test_files_are_rows_of_their_owner(store: PostgresBatchStore) -> None:
    now = time.time()
    row = FileRow("file-a", "own", "batch", "in.jsonl", 10, now, now + 60)
    await store.add_file(row)
    assert await store.get_file("own", "file-a") == row
    assert await store.get_file("other", "file-a") is None
    assert await store.list_files("own", "batch") == ([row], False)
    assert await store.take_expired_files(now + 61) == [row]
    assert await store.delete_file("own", "file-a") is None


async def _pieces(total: int, piece: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        size = min(piece, total - sent)
        yield bytes([sent // piece % 251]) * size
        sent += size


async def test_a_file_larger_than_a_chunk_round_trips_in_chunks(
    db: tuple[str, PostgresKeys], store: PostgresBatchStore
) -> None:
    blobs = PostgresBlobs(store.pool, chunk=64 * 1024)
    total = 5 * 64 * 1024 + 123
    assert await blobs.save("file-big", _pieces(total, 10_000), limit=total) == total
    expected = b"".join([p async for p in _pieces(total, 10_000)])
    chunks = [c async for c in blobs.read("file-big")]
    assert len(chunks) == 6 and max(map(len, chunks)) == 64 * 1024
    assert b"".join(chunks) == expected
    with psycopg.connect(db[0]) as conn:
        [(rows,)] = conn.execute(
            "SELECT count(*) FROM batch_blob_chunks WHERE blob_id='file-big'"
        ).fetchall()
    assert rows == 6
    await blobs.delete("file-big")
    with pytest.raises(FileNotFoundError):
        [c async for c in blobs.read("file-big")]
    with psycopg.connect(db[0]) as conn:
        assert conn.execute("SELECT count(*) FROM batch_blob_chunks").fetchone() == (0,)


async def test_a_large_file_is_never_held_whole_in_memory(store: PostgresBatchStore) -> None:
    blobs = PostgresBlobs(store.pool)  # 1 MiB chunks
    total = 24 * 1024 * 1024
    tracemalloc.start()
    try:
        assert await blobs.save("file-huge", _pieces(total, 256 * 1024), limit=total) == total
        _, peak_in = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        size = 0
        async for chunk in blobs.read("file-huge"):
            size += len(chunk)
        _, peak_out = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == total
    assert peak_in < 8 * 1024 * 1024, peak_in  # a few chunks, never the 24 MiB
    assert peak_out < 8 * 1024 * 1024, peak_out


async def test_an_upload_over_the_limit_or_cut_short_leaves_nothing(
    db: tuple[str, PostgresKeys], store: PostgresBatchStore
) -> None:
    blobs = PostgresBlobs(store.pool, chunk=1024)
    with pytest.raises(BlobTooLarge):
        await blobs.save("file-x", _pieces(10_000, 1000), limit=5000)

    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 3000
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        await blobs.save("file-y", broken(), limit=10_000)
    with psycopg.connect(db[0]) as conn:
        assert conn.execute("SELECT count(*) FROM batch_blobs").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM batch_blob_chunks").fetchone() == (0,)


async def test_a_dead_workers_line_job_is_retried_and_its_line_run_once(
    db: tuple[str, PostgresKeys], store: PostgresBatchStore
) -> None:
    """A procrastinate worker that stopped sending heartbeats holds a line's job: ``recover``
    hands the job back to the queue, and the job then runs the line once its lease lapsed."""
    key = await db[1].create("alice")
    batch_id = await _batch(store, key[:12], lines=1)
    settings = Settings(keys_db=db[0], batch_lease_s=2)
    worker = QueuedBatchWorker(
        store, PostgresBlobs(store.pool), cast(Any, None), settings, GatewayMetrics(), 2
    )
    ran: list[str] = []

    async def work(unit: Unit) -> None:
        ran.append(unit.id)
        assert await store.finish(unit, "done", failed=False)

    worker._work = work  # type: ignore[method-assign]  # the engine is not the point here
    async with worker.app.open_async():
        manager = worker.app.job_manager
        dead = await manager.register_worker()
        job = await manager.fetch_job(queues=[QUEUE], worker_id=dead)
        assert job is not None and job.task_kwargs == {"line_id": f"{batch_id}:1"}
        held = await store.claim_line(f"{batch_id}:1", time.time(), lease_s=2)  # its lease
        assert held is not None
        assert await worker.recover() == (0, 0)  # its worker is alive (a fresh heartbeat)
        with psycopg.connect(db[0], autocommit=True) as conn:
            conn.execute(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'"
            )
        assert await worker.recover() == (1, 0)
        assert _jobs(db[0]) == [(f"{batch_id}:1", "todo")]
        await worker.line_job(f"{batch_id}:1")  # too early: the dead worker's lease holds
        assert ran == []
        await anyio.sleep(2.1)
        await worker.line_job(f"{batch_id}:1")
        assert ran == [f"{batch_id}:1"]
        await worker.line_job(f"{batch_id}:1")  # done: a second run writes nothing
        assert ran == [f"{batch_id}:1"]
    assert [r async for r in store.results(batch_id)] == [(False, "done")]


async def test_a_file_deleted_while_read_is_not_a_short_file(store: PostgresBatchStore) -> None:
    blobs = PostgresBlobs(store.pool, chunk=1024)
    assert await blobs.save("file-z", _pieces(3000, 1000), limit=3000) == 3000
    reading = blobs.read("file-z")
    assert len(await anext(reading)) == 1024
    await blobs.delete("file-z")
    with pytest.raises(FileNotFoundError):
        await anext(reading)
