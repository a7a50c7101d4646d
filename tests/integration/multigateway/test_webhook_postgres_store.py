"""``PostgresWebhookStore`` on a real PostgreSQL: one delivery leased by one claimer at a time
(``SKIP LOCKED``), an outcome written only under its lease, a delivery whose lease lapsed
sent again with the same ``webhook-id``, revoked keys' deliveries dropped."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import pytest

from gateway.auth.postgres import PostgresKeys
from gateway.webhooks.pg_store import PostgresWebhookStore
from gateway.webhooks.store import Delivery

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(db: tuple[str, PostgresKeys]) -> AsyncIterator[PostgresWebhookStore]:
    pg = PostgresWebhookStore(db[0])
    await pg.open()
    try:
        yield pg
    finally:
        await pg.close()


async def _enqueue(store: PostgresWebhookStore, owner: str, object_id: str) -> str:
    return await store.enqueue(
        owner=owner,
        url="https://example.com/h",
        event_type="batch.completed",
        object_id=object_id,
        now=time.time(),
    )


async def test_a_delivery_is_leased_by_one_claimer_and_ended_under_its_lease(
    db: tuple[str, PostgresKeys], store: PostgresWebhookStore
) -> None:
    key = await db[1].create("alice")
    wh_id = await _enqueue(store, key[:12], "batch_1")
    assert await _enqueue(store, key[:12], "batch_1") == wh_id  # one ending, queued once
    now = time.time()
    found: list[list[Delivery]] = []

    async def claim() -> None:
        found.append(await store.claim(now, lease_s=5, limit=5))

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(claim)
    [first] = [d for got in found for d in got]  # exactly one claimer got it
    assert first.id == wh_id and first.attempts == 1 and first.key_secret is None
    assert await store.retry_later(first, now + 30, "HTTP 500")
    assert not await store.delivered(first, now)  # no longer leased
    assert await store.claim(now + 1, lease_s=5, limit=5) == []  # not due yet
    [second] = await store.claim(now + 31, lease_s=5, limit=5)
    assert second.id == wh_id and second.attempts == 2
    assert await store.delivered(second, now + 32)
    state = await store.state(wh_id)
    assert state is not None and state.state == "delivered" and state.attempts == 2
    assert await store.sweep(now + 33) == 1


async def test_a_delivery_whose_lease_lapsed_is_sent_again_with_the_same_id(
    db: tuple[str, PostgresKeys], store: PostgresWebhookStore
) -> None:
    key = await db[1].create("alice")
    own = "whsec_" + "A" * 32
    await db[1].set_webhook_secret("alice", own)
    wh_id = await _enqueue(store, key[:12], "job_1")
    now = time.time()
    [held] = await store.claim(now, lease_s=5, limit=5)  # its replica dies mid-attempt
    assert await store.claim(now + 1, lease_s=5, limit=5) == []
    [again] = await store.claim(now + 6, lease_s=5, limit=5)
    assert again.id == held.id == wh_id and again.body == held.body
    assert again.token != held.token and again.attempts == 2
    assert held.key_secret == again.key_secret == own == await store.key_secret(key[:12])
    assert not await store.give_up(held, now + 7, "late")  # the dead lease writes nothing
    assert await store.give_up(again, now + 7, "HTTP 500")
    assert (depth := await store.queue_stats(now + 8)) == (0, 0.0), depth


async def test_a_revoked_keys_deliveries_are_dropped(
    db: tuple[str, PostgresKeys], store: PostgresWebhookStore
) -> None:
    key = await db[1].create("alice")
    wh_id = await _enqueue(store, key[:12], "batch_2")
    assert (await store.queue_stats(time.time()))[0] == 1
    assert await db[1].revoke("alice")
    assert await store.claim(time.time(), lease_s=5, limit=5) == []
    assert await store.drop_inactive(time.time()) == 1
    state = await store.state(wh_id)
    assert state is not None and state.state == "dropped" and state.last_error == "key_inactive"
