"""A key's ``max_concurrent`` bounds its calls in flight to the engine, whatever its requests
fan out to (schemas, pages), and the waiting never deadlocks. The same invariant against Redis
is in ``tests/integration/multigateway/test_redis_limiter.py``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from gateway.auth import Authenticator, KeyCache, KeyStore, admit
from gateway.auth.admission import LocalLimiter
from gateway.auth.callslots import UNLIMITED, CallSlots, call_slots, slots_for
from gateway.auth.limits import KeyLimiter
from gateway.auth.store import SqliteKeys
from gateway.errors import GatewayError

pytestmark = pytest.mark.anyio


class CountingUpstream:
    """Stands for vLLM: counts the calls in flight and keeps the most seen at once."""

    def __init__(self, hold_s: float = 0.005) -> None:
        self.hold_s = hold_s
        self.in_flight = 0
        self.most = 0
        self.done = 0

    async def __call__(self) -> None:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(self.hold_s)
        finally:
            self.in_flight -= 1
            self.done += 1


async def fan_out(slots: CallSlots, upstream: CountingUpstream, calls: int) -> None:
    """One request's engine calls, all started at once (pages of several schemas)."""

    async def one() -> None:
        async with slots.call():
            await upstream()

    await asyncio.gather(*(one() for _ in range(calls)))


async def test_one_requests_calls_never_exceed_the_key_limit() -> None:
    limiter = LocalLimiter()
    upstream = CountingUpstream()
    admission = await limiter.admit("alice", None, 3)
    async with asyncio.timeout(10):
        await fan_out(slots_for(limiter, "alice", 3, admission), upstream, 20)
    assert upstream.done == 20
    assert upstream.most == 3  # bounded, and the extra slots were used, not only the first
    assert limiter.limiter.in_flight("alice") == 1  # only the admission slot, until released
    admission.release()
    assert limiter.limiter.in_flight("alice") == 0


async def test_two_requests_of_a_key_share_its_budget_and_both_finish() -> None:
    limiter = LocalLimiter()
    upstream = CountingUpstream()
    first, second = await limiter.admit("alice", 60, 2), await limiter.admit("alice", 60, 2)
    async with asyncio.timeout(10):  # each runs on its own admission slot: no deadlock
        await asyncio.gather(
            fan_out(slots_for(limiter, "alice", 2, first), upstream, 6),
            fan_out(slots_for(limiter, "alice", 2, second), upstream, 6),
        )
    assert (upstream.done, upstream.most) == (12, 2)
    other = CountingUpstream()
    bob = await limiter.admit("bob", None, 2)  # another key has its own budget
    await fan_out(slots_for(limiter, "bob", 2, bob), other, 4)
    assert other.most == 2


async def test_calls_in_flight_count_against_admission_of_other_requests() -> None:
    limiter = LocalLimiter()
    upstream = CountingUpstream(hold_s=0.05)
    admission = await limiter.admit("alice", None, 2)
    running = asyncio.create_task(fan_out(slots_for(limiter, "alice", 2, admission), upstream, 4))
    await asyncio.sleep(0.01)
    assert upstream.in_flight == 2
    with pytest.raises(GatewayError) as refused:  # both slots are this request's calls now
        await limiter.admit("alice", None, 2)
    assert refused.value.code == "concurrency_limit_exceeded"
    await running
    admission.release()
    (await limiter.admit("alice", None, 2)).release()


async def test_rpm_counts_requests_not_engine_calls() -> None:
    limiter = LocalLimiter()
    admission = await limiter.admit("alice", 1, 2)
    await fan_out(slots_for(limiter, "alice", 2, admission), CountingUpstream(), 5)
    with pytest.raises(GatewayError) as refused:
        await limiter.admit("alice", 1, 2)
    assert refused.value.code == "rate_limit_exceeded"  # the one request, not five calls


async def test_background_slots_wait_for_a_slot_for_every_call() -> None:
    limiter = LocalLimiter()
    upstream = CountingUpstream()
    admission = await limiter.admit("alice", None, 2)
    async with asyncio.timeout(10):
        await asyncio.gather(
            fan_out(CallSlots.background(limiter, "alice", 2), upstream, 8),
            fan_out(slots_for(limiter, "alice", 2, admission), upstream, 8),
        )
    assert (upstream.done, upstream.most) == (16, 2)
    admission.release()
    assert limiter.limiter.in_flight("alice") == 0


async def test_a_cancelled_waiting_call_leaves_no_slot_behind() -> None:
    limiter = LocalLimiter()
    admission = await limiter.admit("alice", None, 1)
    slots = slots_for(limiter, "alice", 1, admission)
    gate = asyncio.Event()

    async def first() -> None:
        async with slots.call():
            await gate.wait()

    holder = asyncio.create_task(first())
    waiter = asyncio.create_task(fan_out(slots, CountingUpstream(), 1))
    await asyncio.sleep(0.02)
    assert not waiter.done()  # the key's only slot is busy: it waits, it is not refused
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    gate.set()
    await holder
    await fan_out(slots, CountingUpstream(), 2)  # the admission slot is free again
    admission.release()
    assert limiter.limiter.in_flight("alice") == 0


async def test_a_call_nested_in_a_call_of_the_same_task_reuses_its_slot() -> None:
    limiter = LocalLimiter()
    admission = await limiter.admit("alice", None, 1)
    slots = slots_for(limiter, "alice", 1, admission)
    upstream = CountingUpstream()

    async def nested_then_fanned_out() -> None:
        async with slots.call():
            async with slots.call():  # a helper wrapping its own call: no second slot asked
                await upstream()
            await fan_out(slots, upstream, 2)  # new tasks: they wait for the slot

    waited = asyncio.create_task(nested_then_fanned_out())
    await asyncio.sleep(0.05)
    assert upstream.done == 1 and not waited.done()  # the two tasks wait for the outer call
    waited.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waited
    async with asyncio.timeout(5):
        async with slots.call():
            async with slots.call():
                await upstream()
    assert upstream.most == 1 and limiter.limiter.in_flight("alice") == 1


async def test_a_key_without_a_concurrency_limit_is_not_counted() -> None:
    limiter = LocalLimiter()
    upstream = CountingUpstream()
    admission = await limiter.admit("free", None, None)
    slots = slots_for(limiter, "free", None, admission)
    assert slots is UNLIMITED
    await fan_out(slots, upstream, 10)
    assert upstream.most == 10
    await fan_out(CallSlots.background(limiter, "free", None), upstream, 3)


def test_admit_leaves_the_requests_call_slots(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.db")
    limited = store.create("alice", max_concurrent=2)
    free = store.create("bob")
    limiter = KeyLimiter()
    app = FastAPI()
    app.state.auth = Authenticator(KeyCache(SqliteKeys(store), ttl=0), limiter)
    seen: list[tuple[int | None, int]] = []

    @app.get("/work")
    async def work(request: Request) -> dict[str, str]:
        key = await admit(request, None)
        slots = call_slots(request)
        async with slots.call():  # the first call runs on the admission slot
            seen.append((slots.limit, limiter.in_flight(key.name)))
        return {"ok": "yes"}

    @app.get("/open")
    async def not_admitted(request: Request) -> dict[str, bool]:
        return {"unlimited": call_slots(request) is UNLIMITED}

    with TestClient(app) as client:
        assert client.get("/work", headers={"Authorization": f"Bearer {limited}"}).is_success
        assert client.get("/work", headers={"Authorization": f"Bearer {free}"}).is_success
        assert client.get("/open").json() == {"unlimited": True}
    assert seen == [(2, 1), (None, 0)]
    store.close()
