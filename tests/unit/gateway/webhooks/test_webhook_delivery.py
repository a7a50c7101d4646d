"""The delivery loop against a real receiver on loopback: retries keep their webhook-id and
are signed afresh, it gives up after GATEWAY_WEBHOOK_MAX_ATTEMPTS, a key's own secret signs
its events, and the target is checked again at delivery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import openai
import pytest
import standardwebhooks

from gateway.auth import KeyStore
from gateway.auth.keys import new_webhook_secret
from gateway.metrics import GatewayMetrics
from gateway.settings import Settings
from gateway.webhooks.deliver import WebhookDeliverer, make_webhook_client
from gateway.webhooks.store import DeliveryState, SqliteWebhookStore
from tests.support.webhook_receiver import Delivered, Receiver

pytestmark = pytest.mark.anyio

GLOBAL = new_webhook_secret()


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "keys_db": tmp_path / "keys.db",
        "webhook_secret": GLOBAL,
        "allow_private_fetch": True,
        "webhook_backoff_s": 1.0,
        "webhook_timeout_s": 5.0,
        "batch_poll_s": 0.1,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[str]:
    keys = KeyStore(tmp_path / "keys.db")
    yield keys.create("alice")[:12]
    keys.close()


@asynccontextmanager
async def _delivering(settings: Settings) -> AsyncIterator[tuple[SqliteWebhookStore, Any]]:
    store = SqliteWebhookStore(settings.keys_db)
    client = make_webhook_client(settings)
    metrics = GatewayMetrics()
    task = asyncio.create_task(WebhookDeliverer(store, client, settings, metrics).run())
    try:
        yield store, metrics
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()
        await store.close()


async def _until(store: SqliteWebhookStore, wh: str, done: Callable[[DeliveryState], bool]) -> Any:
    with anyio.fail_after(20):
        while not ((state := await store.state(wh)) and done(state)):
            await asyncio.sleep(0.05)
    return state


def _verifies(hit: Delivered, secret: str) -> bool:
    try:
        openai.OpenAI(api_key="unused").webhooks.unwrap(hit.body, hit.headers, secret=secret)
        standardwebhooks.Webhook(secret).verify(hit.body, hit.headers)
    except (openai.InvalidWebhookSignatureError, standardwebhooks.WebhookVerificationError):
        return False
    return True


async def test_retries_keep_the_id_and_are_signed_afresh(tmp_path: Path, owner: str) -> None:
    settings = _settings(tmp_path, webhook_max_attempts=5)
    with Receiver(fail_first=2) as rx:
        async with _delivering(settings) as (store, metrics):
            wh = await store.enqueue(
                owner=owner,
                url=rx.url,
                event_type="batch.completed",
                object_id="b",
                now=time.time(),
            )
            hits = await anyio.to_thread.run_sync(rx.wait_for, 3)
            state = await _until(store, wh, lambda s: s.state == "delivered")
            assert state.attempts == 3
            gauge = metrics.queue_depth.labels(kind="webhook")._value
            with anyio.move_on_after(5):  # refreshed by the loop's next round
                while gauge.get() != 0:
                    await asyncio.sleep(0.05)
            depth = gauge.get()
    assert [h.status for h in hits] == [500, 500, 200] and len(rx.received) == 3
    assert {h.headers["webhook-id"] for h in hits} == {wh}
    stamps = [int(h.headers["webhook-timestamp"]) for h in hits]
    assert stamps == sorted(set(stamps)), "each attempt is signed at its own time"
    assert all(_verifies(h, GLOBAL) for h in hits)
    assert len({h.body for h in hits}) == 1 and hits[0].path == "/hooks"
    assert hits[1].at - hits[0].at >= 1.0 and hits[2].at - hits[1].at >= 2.0  # backoff doubles
    assert depth == 0


async def test_it_gives_up_after_max_attempts(tmp_path: Path, owner: str) -> None:
    settings = _settings(tmp_path, webhook_max_attempts=3, webhook_backoff_s=0.3)
    with Receiver(fail_first=100, fail_status=503) as rx:
        async with _delivering(settings) as (store, _):
            wh = await store.enqueue(
                owner=owner, url=rx.url, event_type="batch.failed", object_id="b", now=time.time()
            )
            state = await _until(store, wh, lambda s: s.state == "failed")
            await asyncio.sleep(1.5)  # no fourth attempt comes
    assert (state.attempts, state.last_error) == (3, "HTTP 503")
    assert len(rx.received) == 3


async def test_a_keys_own_secret_signs_its_events_not_the_global_one(
    tmp_path: Path, owner: str
) -> None:
    own = new_webhook_secret()
    KeyStore(tmp_path / "keys.db").set_webhook_secret("alice", own)
    with Receiver() as rx:
        async with _delivering(_settings(tmp_path)) as (store, _):
            await store.enqueue(
                owner=owner,
                url=rx.url,
                event_type="batch.completed",
                object_id="b",
                now=time.time(),
            )
            [hit] = await anyio.to_thread.run_sync(rx.wait_for, 1)
    assert _verifies(hit, own) and not _verifies(hit, GLOBAL)


async def test_without_any_secret_the_event_is_dropped(tmp_path: Path, owner: str) -> None:
    with Receiver() as rx:
        async with _delivering(_settings(tmp_path, webhook_secret=None)) as (store, _):
            wh = await store.enqueue(
                owner=owner,
                url=rx.url,
                event_type="batch.completed",
                object_id="b",
                now=time.time(),
            )
            state = await _until(store, wh, lambda s: s.state == "dropped")
    assert state.last_error == "no_secret" and rx.received == []


async def test_the_target_is_checked_again_at_delivery(tmp_path: Path, owner: str) -> None:
    """As if the host's DNS answered a public address when the request was checked and a
    loopback one now: the delivery is not sent."""
    settings = _settings(tmp_path, allow_private_fetch=False, webhook_max_attempts=1)
    with Receiver() as rx:
        url = rx.url.replace("http://", "https://")
        async with _delivering(settings) as (store, _):
            wh = await store.enqueue(
                owner=owner, url=url, event_type="batch.completed", object_id="b", now=time.time()
            )
            state = await _until(store, wh, lambda s: s.state == "failed")
    assert "resolves to a loopback address" in state.last_error and rx.received == []
