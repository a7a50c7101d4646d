"""The shared limiter against a real Redis (Valkey): two limiters stand for two replicas."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from gateway.auth.callslots import CallSlots, slots_for
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


async def test_a_limit_of_zero_is_an_error_here_and_in_the_script(
    replicas: list[RedisLimiter],
) -> None:
    limiter = replicas[0]
    for rpm, limit in ((0, None), (None, 0), (0, 2)):
        with pytest.raises(ValueError):
            await limiter.admit("alice", rpm, limit)
    with pytest.raises(ResponseError, match="a limit of 0"):  # the script itself refuses it
        await limiter._admit(
            keys=["gateway:{alice}:rpm", "gateway:{alice}:conc"],
            args=[0, 60_000, "m", -1, 1000, "m"],
        )
    assert await limiter.client.exists("gateway:{alice}:rpm", "gateway:{alice}:conc") == 0


async def test_rpm_window_expires_on_redis(clean_redis: RedisServer) -> None:
    client = aioredis.Redis.from_url(clean_redis.url)
    limiter = RedisLimiter(client, GatewayMetrics(), window_s=0.4)
    try:
        await limiter.check_rate("alice", 2)
        await limiter.check_rate("alice", 2)
        with pytest.raises(GatewayError) as over:
            await limiter.check_rate("alice", 2)
        assert over.value.headers == {"Retry-After": "1"}
        await asyncio.sleep(0.5)  # the window passed: both requests left it
        await limiter.check_rate("alice", 2)
        await limiter.check_rate("alice", 2)
        with pytest.raises(GatewayError):
            await limiter.check_rate("alice", 2)
    finally:
        await client.aclose()


async def test_released_leases_survive_a_redis_error(clean_redis: RedisServer) -> None:
    """A release whose removal fails (Redis stalled) is retried, not forgotten until the
    lease's TTL: the key's next admission removes it."""
    admin = aioredis.Redis.from_url(clean_redis.url)
    client = aioredis.Redis.from_url(clean_redis.url, socket_timeout=0.2)
    limiter = RedisLimiter(client, GatewayMetrics(), lease_ttl_s=60)
    try:
        lease = await limiter.acquire("alice", 1)
        await admin.execute_command("CLIENT", "PAUSE", 1500, "WRITE")
        lease.release()
        await limiter.acquire("alice", 1)  # times out: fails open, the removal must stay queued
        await asyncio.sleep(0.1)  # the background removal fails too
        await admin.execute_command("CLIENT", "UNPAUSE")
        held = await limiter.acquire("alice", 1)  # removes the released lease first
        assert held.held and await admin.zcard("gateway:{alice}:conc") == 1
        assert limiter.pending_releases() == 0
    finally:
        await admin.execute_command("CLIENT", "UNPAUSE")
        await client.aclose()
        await admin.aclose()


async def test_a_lapsed_lease_is_reported_once(
    clean_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = aioredis.Redis.from_url(clean_redis.url)
    metrics = GatewayMetrics()
    limiter = RedisLimiter(client, metrics, lease_ttl_s=5)
    try:
        lost = await limiter.acquire("alice", 2)
        live = await limiter.acquire("bob", 2)
        await client.delete("gateway:{alice}:conc")  # expired and dropped by an admission
        with caplog.at_level(logging.WARNING, logger="gateway.limits"):
            await limiter.refresh()
            await limiter.refresh()
        lapsed = [r for r in caplog.records if "lapsed" in r.getMessage()]
        assert len(lapsed) == 1 and "'alice'" in lapsed[0].getMessage()
        assert metrics.limiter_lapsed_leases._value.get() == 1
        assert "gateway_limiter_lapsed_leases_total 1.0" in metrics.render()[0].decode()
        assert await client.zcard("gateway:{bob}:conc") == 1  # the live lease is kept
        lost.release()
        live.release()
    finally:
        await client.aclose()


async def test_an_expired_lease_is_not_brought_back_by_its_refresh(
    clean_redis: RedisServer,
) -> None:
    """A replica that stalled past its leases' TTL must not revive them on its next refresh:
    their slots may already be someone else's."""
    clients = [aioredis.Redis.from_url(clean_redis.url) for _ in range(2)]
    metrics = GatewayMetrics()
    stalled = RedisLimiter(clients[0], metrics, lease_ttl_s=0.4)
    live = RedisLimiter(clients[1], GatewayMetrics(), lease_ttl_s=0.4)
    try:
        await stalled.acquire("alice", 2)
        await live.acquire("alice", 2)
        await asyncio.sleep(0.25)
        await live.refresh()  # keeps the key's set (and its own lease) alive
        await asyncio.sleep(0.25)  # the stalled lease expired; no admission dropped it yet
        await stalled.refresh()
        assert (await live.acquire("alice", 2)).held  # the expired slot is free again
        assert metrics.limiter_lapsed_leases._value.get() == 1
    finally:
        for client in clients:
            await client.aclose()


class CountingUpstream:
    """Stands for vLLM: counts the calls in flight and keeps the most seen at once."""

    def __init__(self) -> None:
        self.in_flight = self.most = self.done = 0

    async def __call__(self) -> None:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.01)
        finally:
            self.in_flight -= 1
            self.done += 1


async def fan_out(slots: CallSlots, upstream: CountingUpstream, calls: int) -> None:
    async def one() -> None:
        async with slots.call():
            await upstream()

    await asyncio.gather(*(one() for _ in range(calls)))


async def test_engine_calls_of_a_key_stay_under_its_limit_across_replicas(
    replicas: list[RedisLimiter],
) -> None:
    """Two requests of one key on two replicas, each fanning out to 8 engine calls (three
    schemas, pages): never more than the key's 3 calls in flight, and all of them finish."""
    upstream = CountingUpstream()

    async def request(limiter: RedisLimiter) -> None:
        admission = await limiter.admit("alice", 60, 3)
        try:
            await fan_out(slots_for(limiter, "alice", 3, admission), upstream, 8)
        finally:
            admission.release()

    async with asyncio.timeout(20):
        await asyncio.gather(request(replicas[0]), request(replicas[1]))
    assert upstream.done == 16 and upstream.most <= 3
    assert upstream.most >= 2  # extra slots were used: the calls were not serialised


async def test_background_calls_share_the_keys_budget_on_redis(
    replicas: list[RedisLimiter],
) -> None:
    upstream = CountingUpstream()
    a, b = replicas
    admission = await a.admit("alice", None, 2)
    async with asyncio.timeout(20):
        await asyncio.gather(
            fan_out(slots_for(a, "alice", 2, admission), upstream, 6),
            fan_out(CallSlots.background(b, "alice", 2), upstream, 6),
        )
    admission.release()
    assert upstream.done == 12 and upstream.most == 2
    await asyncio.sleep(0.05)  # the batched removal of released leases
    assert await a.client.zcard("gateway:{alice}:conc") == 0
