"""``SqliteBatchStore``: leases, idempotent results, lapsed leases, revoked keys, expiry."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from gateway.auth import KeyStore
from gateway.batch.sqlite import SqliteBatchStore
from gateway.batch.store import BatchRow, InputLine


def _setup(tmp_path: Path, lines: int = 3) -> tuple[KeyStore, SqliteBatchStore, str, str]:
    keys = KeyStore(tmp_path / "keys.db")
    key = keys.create("alice", max_concurrent=4)
    store = SqliteBatchStore(tmp_path / "keys.db")
    now = time.time()
    batch = BatchRow(
        id="batch_1",
        owner=key[:12],
        key_name="alice",
        endpoint="/v1/chat/completions",
        input_file_id="file-1",
        completion_window="24h",
        status="validating",
        created_at=now,
        expires_at=now + 3600,
    )
    asyncio.run(store.create_batch(batch))
    inputs = [InputLine(i + 1, f"c{i}", "{}") for i in range(lines)]
    asyncio.run(store.add_lines("batch_1", inputs, now))
    assert asyncio.run(store.claim(now, lease_s=5, limit=10)) == []  # still validating
    asyncio.run(store.start_batch("batch_1", len(inputs), now))
    return keys, store, key, batch.id


def test_a_result_is_written_once_by_the_lease_that_ran_it(tmp_path: Path) -> None:
    _, store, _, _ = _setup(tmp_path, lines=1)

    async def scenario() -> None:
        now = time.time()
        [first] = await store.claim(now, lease_s=5, limit=10)
        assert first.max_concurrent == 4 and first.custom_id == "c0"
        assert await store.claim(now, lease_s=5, limit=10) == []  # leased: not claimable
        [second] = await store.claim(now + 6, lease_s=5, limit=10)  # the lease lapsed
        assert second.id == first.id and second.token != first.token
        assert not await store.finish(first, "stale", failed=False)  # an old lease: nothing
        assert await store.finish(second, "fresh", failed=False)
        assert not await store.finish(second, "again", failed=False)  # done: nothing
        assert [r async for r in store.results("batch_1")] == [(False, "fresh")]
        batch = await store.get_batch(first.owner, "batch_1")
        assert batch is not None and (batch.completed, batch.failed) == (1, 0)

    asyncio.run(scenario())


def test_a_retried_line_waits_for_its_time(tmp_path: Path) -> None:
    _, store, _, _ = _setup(tmp_path, lines=1)

    async def scenario() -> None:
        now = time.time()
        [unit] = await store.claim(now, lease_s=5, limit=10)
        await store.retry_later(unit, now + 2)
        assert await store.claim(now + 1, lease_s=5, limit=10) == []
        [again] = await store.claim(now + 3, lease_s=5, limit=10)
        assert again.retries == 1

    asyncio.run(scenario())


def test_a_revoked_keys_lines_are_not_claimed_and_its_batch_ends(tmp_path: Path) -> None:
    keys, store, key, _ = _setup(tmp_path)

    async def scenario() -> None:
        keys.revoke("alice")
        now = time.time()
        assert await store.claim(now, lease_s=5, limit=10) == []
        [(batch, reason)] = await store.close_due(now, lease_s=5)
        assert batch.id == "batch_1" and reason == "key_inactive"
        assert await store.close_due(now, lease_s=5) == []  # leased to this finisher

    asyncio.run(scenario())


def test_other_owners_see_nothing(tmp_path: Path) -> None:
    _, store, key, _ = _setup(tmp_path)

    async def scenario() -> None:
        assert await store.get_batch("sk-other", "batch_1") is None
        assert await store.cancel_batch("sk-other", "batch_1", time.time()) is None
        assert await store.list_batches("sk-other", None, 10) == ([], False)
        assert await store.get_batch(key[:12], "batch_1") is not None

    asyncio.run(scenario())


def test_a_failed_validation_drops_the_lines_stored_so_far(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys.db")
    key = keys.create("alice")
    store = SqliteBatchStore(tmp_path / "keys.db")
    now = time.time()
    batch = BatchRow(
        id="batch_2",
        owner=key[:12],
        key_name="alice",
        endpoint="/v1/chat/completions",
        input_file_id="file-1",
        completion_window="24h",
        status="validating",
        created_at=now,
        expires_at=now + 3600,
    )

    async def scenario() -> None:
        await store.create_batch(batch)
        await store.add_lines("batch_2", [InputLine(1, "a", "{}")], now)
        await store.fail_validation("batch_2", [{"code": "x", "line": 2}], now)
        failed = await store.get_batch(key[:12], "batch_2")
        assert failed is not None and failed.status == "failed"
        assert failed.errors == {"object": "list", "data": [{"code": "x", "line": 2}]}
        assert [r async for r in store.results("batch_2")] == []
        assert await store.queue_stats(now) == (0, 0.0)

    asyncio.run(scenario())
