"""The shared limiter against a real Redis (Valkey): two limiters stand for two replicas."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from gateway.auth.revocation import listen_for_revocations, publish_revocation
from gateway.auth.shared_limits import RedisLimiter
from gateway.errors import GatewayError
from gateway.metrics import GatewayMetrics
from tests.support.procs import free_port
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.anyio


@pytest.fixture
async def replicas(clean_redis: RedisServer) -> AsyncIterator[list[RedisLimiter]]:
    clients = [aioredis.Redis.from_url(clean_redis.url) for _ in range(2)]
    yield [RedisLimiter(c, GatewayMetrics(), lease_ttl_s=0.6) for c in clients]
    for client in clients:
        await client.aclose()


async def test_rpm_is_one_budget_across_replicas(replicas: list[RedisLimiter]) -> None:
    admitted = 0
    for i in range(10):
        await replicas[i % 2].check_rate("alice", 10)
        admitted += 1
    for limiter in replicas:
        with pytest.raises(GatewayError) as refused:
            await limiter.check_rate("alice", 10)
        assert refused.value.status == 429 and refused.value.code == "rate_limit_exceeded"
        assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    await replicas[0].check_rate("bob", 10)  # budgets are per key
    await replicas[0].check_rate("alice", None)  # no limit, no count
    assert admitted == 10


async def test_concurrency_slots_are_shared_and_released(replicas: list[RedisLimiter]) -> None:
    a, b = replicas
    first = await a.acquire("alice", 2)
    await b.acquire("alice", 2)
    with pytest.raises(GatewayError) as refused:
        await a.acquire("alice", 2)
    assert refused.value.code == "concurrency_limit_exceeded"
    first.release()
    first.release()  # idempotent: gives back one slot, not two
    await asyncio.sleep(0.05)  # the ZREM runs in the background
    await b.acquire("alice", 2)
    with pytest.raises(GatewayError):
        await b.acquire("alice", 2)


async def test_a_crashed_replicas_slots_expire_and_live_ones_are_kept(
    replicas: list[RedisLimiter],
) -> None:
    crashed, live = replicas
    await crashed.acquire("alice", 2)  # never released, never refreshed: the replica died
    keeper = asyncio.create_task(live.keep_leases_alive())
    try:
        await live.acquire("alice", 2)
        with pytest.raises(GatewayError):
            await live.acquire("alice", 2)
        await asyncio.sleep(1.5)  # 2.5 lease TTLs: the crashed lease went, the live one stayed
        held = await live.acquire("alice", 2)
        with pytest.raises(GatewayError):
            await live.acquire("alice", 2)
        held.release()
    finally:
        keeper.cancel()


@pytest.mark.parametrize("mode", ["open", "closed"])
async def test_unreachable_redis_fails_open_or_closed(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = aioredis.Redis.from_url(
        f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5, socket_timeout=0.5
    )
    metrics = GatewayMetrics()
    limiter = RedisLimiter(client, metrics, fail_mode=mode)  # type: ignore[arg-type]
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.limits"):
            if mode == "open":
                await limiter.check_rate("alice", 1)
                await limiter.check_rate("alice", 1)
                (await limiter.acquire("alice", 1)).release()
            else:
                for call in (limiter.check_rate("alice", 1), limiter.acquire("alice", 1)):
                    with pytest.raises(GatewayError) as refused:
                        await call
                    assert refused.value.status == 503
                    assert refused.value.code == "limiter_unavailable"
        assert metrics.limiter_errors._value.get() >= 2
        warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
        assert len(warnings) == 1  # one line, not one per request
    finally:
        await client.aclose()


async def test_revocations_reach_every_listener(clean_redis: RedisServer) -> None:
    heard: list[list[str | None]] = [[], []]
    ready = [asyncio.Event(), asyncio.Event()]
    listeners = [
        asyncio.create_task(
            listen_for_revocations(clean_redis.url, heard[i].append, ready=ready[i])
        )
        for i in range(2)
    ]
    client = aioredis.Redis.from_url(clean_redis.url)
    try:
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 5)
        assert await publish_revocation(client, "sk-abcdefghi") == 2
        for _ in range(100):
            if all("sk-abcdefghi" in h for h in heard):
                break
            await asyncio.sleep(0.01)
        assert heard == [[None, "sk-abcdefghi"], [None, "sk-abcdefghi"]]
    finally:
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        await client.aclose()


async def test_admit_checks_both_limits_in_one_script(replicas: list[RedisLimiter]) -> None:
    a, b = replicas
    held = [await a.admit("alice", 3, 2), await b.admit("alice", 3, 2)]
    with pytest.raises(GatewayError) as full:
        await a.admit("alice", 3, 2)
    assert full.value.code == "concurrency_limit_exceeded"  # and it counted against rpm
    with pytest.raises(GatewayError) as over:
        await b.admit("alice", 3, 2)
    assert over.value.code == "rate_limit_exceeded"
    for lease in held:
        lease.release()
    await asyncio.sleep(0.05)
    assert await a.client.zcard("gateway:{alice}:conc") == 0  # the batched release ran
    free = await a.admit("bob", None, None)  # nothing to count: no round trip, no lease
    assert not free.held
