"""``SqliteWebhookStore``: a delivery interrupted by a crash is sent again, one ending is one
event, a revoked key's deliveries are dropped, and a batch's end queues its event with it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from gateway.auth import KeyStore
from gateway.batch.sqlite import SqliteBatchStore
from gateway.batch.store import BatchRow, BatchStatus
from gateway.webhooks.store import SqliteWebhookStore

pytestmark = pytest.mark.anyio

URL = "https://hooks.example.com/in"


def _open(tmp_path: Path) -> tuple[KeyStore, SqliteWebhookStore, str]:
    keys = KeyStore(tmp_path / "keys.db")
    key = keys.create("alice")
    return keys, SqliteWebhookStore(tmp_path / "keys.db"), key[:12]


async def test_a_delivery_interrupted_by_a_crash_is_sent_again(tmp_path: Path) -> None:
    _, store, owner = _open(tmp_path)
    now = time.time()
    webhook_id = await store.enqueue(
        owner=owner, url=URL, event_type="batch.completed", object_id="batch_1", now=now
    )
    [first] = await store.claim(now, lease_s=10, limit=8)
    assert (first.id, first.attempts, first.url) == (webhook_id, 1, URL)
    # the gateway dies here, mid-delivery: nothing is written
    assert await store.claim(now + 5, lease_s=10, limit=8) == []  # its lease still holds
    [again] = await store.claim(now + 11, lease_s=10, limit=8)  # lapsed: sent again
    assert again.id == webhook_id and again.body == first.body
    assert again.attempts == 2 and again.token != first.token
    assert not await store.delivered(first, now + 12)  # the dead attempt's lease: nothing
    assert await store.delivered(again, now + 12)
    state = await store.state(webhook_id)
    assert state is not None and (state.state, state.attempts) == ("delivered", 2)
    assert await store.claim(now + 100, lease_s=10, limit=8) == []
    assert await store.sweep(now + 13) == 1 and await store.state(webhook_id) is None


async def test_one_ending_queued_twice_is_one_event(tmp_path: Path) -> None:
    _, store, owner = _open(tmp_path)
    now = time.time()
    args = {"owner": owner, "url": URL, "event_type": "batch.completed", "object_id": "b"}
    assert await store.enqueue(**args, now=now) == await store.enqueue(**args, now=now + 1)
    assert len(await store.claim(now + 2, lease_s=10, limit=8)) == 1


async def test_a_failed_attempt_waits_and_keeps_its_id(tmp_path: Path) -> None:
    _, store, owner = _open(tmp_path)
    now = time.time()
    await store.enqueue(owner=owner, url=URL, event_type="batch.failed", object_id="b", now=now)
    [d] = await store.claim(now, lease_s=10, limit=8)
    assert await store.retry_later(d, now + 30, "HTTP 500")
    assert await store.queue_stats(now + 1) == (1, 1.0)
    assert await store.claim(now + 29, lease_s=10, limit=8) == []
    [again] = await store.claim(now + 31, lease_s=10, limit=8)
    assert again.id == d.id and again.attempts == 2
    assert await store.give_up(again, now + 32, "HTTP 500")
    state = await store.state(d.id)
    assert state is not None and (state.state, state.last_error) == ("failed", "HTTP 500")
    assert await store.queue_stats(now + 33) == (0, 0.0)


async def test_a_revoked_keys_deliveries_are_dropped(tmp_path: Path) -> None:
    keys, store, owner = _open(tmp_path)
    now = time.time()
    webhook_id = await store.enqueue(
        owner=owner, url=URL, event_type="batch.cancelled", object_id="b", now=now
    )
    keys.revoke("alice")
    assert await store.claim(now, lease_s=10, limit=8) == []
    assert await store.drop_inactive(now) == 1
    state = await store.state(webhook_id)
    assert state is not None and (state.state, state.last_error) == ("dropped", "key_inactive")


async def test_a_keys_own_secret_comes_with_its_deliveries(tmp_path: Path) -> None:
    keys, store, owner = _open(tmp_path)
    now = time.time()
    await store.enqueue(owner=owner, url=URL, event_type="batch.completed", object_id="b", now=now)
    [plain] = await store.claim(now, lease_s=10, limit=8)
    assert plain.key_secret is None and await store.key_secret(owner) is None
    keys.set_webhook_secret("alice", "whsec_" + "A" * 44)
    [own] = await store.claim(now + 11, lease_s=10, limit=8)
    assert own.key_secret == "whsec_" + "A" * 44 == await store.key_secret(owner)


def _batch(owner: str, status: BatchStatus, url: str | None) -> BatchRow:
    now = time.time()
    return BatchRow(
        id=f"batch_{status}_{url is not None}",
        owner=owner,
        key_name="alice",
        endpoint="/v1/chat/completions",
        input_file_id="file-1",
        completion_window="24h",
        status=status,
        created_at=now,
        expires_at=now + 3600,
        webhook_url=url,
    )


@pytest.mark.parametrize("status", ["completed", "expired", "cancelled"])
async def test_a_batchs_end_queues_its_event_once(tmp_path: Path, status: BatchStatus) -> None:
    _, store, owner = _open(tmp_path)
    batches = SqliteBatchStore(tmp_path / "keys.db")
    now = time.time()
    for url in (URL, None):
        row = _batch(owner, "finalizing", url)
        await batches.create_batch(row)
        await batches.end_batch(row.id, status, [], None, None, now)
        await batches.end_batch(row.id, status, [], None, None, now + 1)  # ended: no-op
    [d] = await store.claim(now + 2, lease_s=10, limit=8)
    assert d.event_type == f"batch.{status}" and d.url == URL
    event = json.loads(d.body)
    assert event["type"] == f"batch.{status}"
    assert event["data"] == {"id": _batch(owner, "finalizing", URL).id}
    assert event["object"] == "event" and event["id"].startswith("evt_")
    stored = await batches.get_batch(owner, _batch(owner, "finalizing", URL).id)
    assert stored is not None and stored.webhook_url == URL


async def test_a_batch_failing_validation_queues_batch_failed(tmp_path: Path) -> None:
    _, store, owner = _open(tmp_path)
    batches = SqliteBatchStore(tmp_path / "keys.db")
    row = _batch(owner, "validating", URL)
    await batches.create_batch(row)
    await batches.fail_validation(row.id, [{"code": "empty_file"}], time.time())
    [d] = await store.claim(time.time(), lease_s=10, limit=8)
    assert (d.event_type, d.object_id) == ("batch.failed", row.id)
