"""Two real gateway processes on different ports share one PostgreSQL and one Redis (Valkey),
in front of the stub upstream: limits hold across both, a revocation through one reaches the
other within a second, and a gateway killed mid-request frees its slots by the lease TTL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway_server import GatewayServer, Proc, start_gateway
from tests.support.pg import PostgresServer
from tests.support.redis_server import RedisServer

from .gateways import HoldingRequests, chat, error_code, wait_for

LEASE_TTL_S = 3.0


@pytest.fixture(scope="module")
def shared_env(postgres_server: PostgresServer, redis_server: RedisServer) -> dict[str, str]:
    redis_server.flush()
    return {
        "GATEWAY_KEYS_DB": postgres_server.fresh_database("two_gateways"),
        "GATEWAY_REDIS_URL": redis_server.url,
        "GATEWAY_LIMIT_LEASE_TTL_S": str(LEASE_TTL_S),
        # the longest TTL allowed: a revocation seen sooner came through Redis
        "GATEWAY_KEY_CACHE_TTL_S": "1.0",
    }


def _gateway(stub: Proc, work: Path, env: dict[str, str]) -> GatewayServer:
    return start_gateway(stub.base_url, work, **env)


@pytest.fixture(scope="module")
def pair(
    stub: Proc, shared_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[GatewayServer, GatewayServer]]:
    work = tmp_path_factory.mktemp("gateways")
    a = _gateway(stub, work, shared_env)
    try:
        b = _gateway(stub, work, shared_env)
    except BaseException:
        a.stop()
        raise
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture
def holding(stub: Proc) -> Iterator[HoldingRequests]:
    requests = HoldingRequests(stub)
    yield requests
    requests.close()


def test_rpm_is_one_budget_across_both_gateways(pair: tuple[GatewayServer, ...]) -> None:
    a, b = pair
    key = a.create_key("rpm10", rpm=10)
    answers = [chat(pair[i % 2], key) for i in range(16)]
    statuses = [r.status_code for r in answers]
    assert statuses == [200] * 10 + [429] * 6, statuses
    for refused in answers[10:]:
        assert error_code(refused) == "rate_limit_exceeded"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert chat(b, b.create_key("other", rpm=10)).status_code == 200  # budgets are per key


def test_two_in_flight_across_both_gateways(
    pair: tuple[GatewayServer, ...], holding: HoldingRequests
) -> None:
    a, b = pair
    key = a.create_key("conc2", max_concurrent=2)
    holding.hold(a, key)
    holding.hold(b, key)
    for gw in (a, b):
        refused = chat(gw, key)
        assert refused.status_code == 429 and error_code(refused) == "concurrency_limit_exceeded"
    assert holding.release() == [200, 200]
    wait_for(lambda: chat(b, key).status_code == 200, "a slot after the release", 3)


def test_revocation_through_one_is_refused_by_the_other_within_a_second(
    pair: tuple[GatewayServer, ...],
) -> None:
    a, b = pair
    key = a.create_key("revoke-me")
    assert chat(a, key).status_code == 200 and chat(b, key).status_code == 200  # both cached
    revoked = a.cli("keys", "revoke", "revoke-me")
    assert revoked.returncode == 0, revoked.stderr
    assert "2 gateway process(es) told" in revoked.stderr
    took = wait_for(lambda: chat(b, key).status_code == 401, "the revocation on B", 1.0)
    assert error_code(chat(b, key)) == "revoked_api_key"
    print(f"revocation seen by the other gateway {took * 1000:.0f} ms after the CLI returned")


def test_a_killed_gateways_slots_expire_within_the_lease_ttl(
    pair: tuple[GatewayServer, ...],
    stub: Proc,
    shared_env: dict[str, str],
    holding: HoldingRequests,
    tmp_path: Path,
) -> None:
    a, _ = pair
    doomed = _gateway(stub, tmp_path, shared_env)
    try:
        key = a.create_key("crash", max_concurrent=2)
        holding.hold(doomed, key, count=2)
        assert chat(a, key).status_code == 429  # both slots are held by the doomed gateway
        doomed.proc.kill()  # SIGKILL: no release, no more refreshes
        doomed.proc.wait()
        killed_at = time.monotonic()
        assert chat(a, key).status_code == 429, "a dead gateway's leases outlive it, briefly"
        # Its last refresh was at most a third of the TTL before the kill, so by one TTL after
        # the kill (plus the margin of one refresh period) both slots must be free again.
        time.sleep(max(0.0, killed_at + LEASE_TTL_S + LEASE_TTL_S / 3 - time.monotonic()))
        holding.hold(a, key, count=2)  # both slots at once: neither is still taken
        assert holding.release()[-2:] == [200, 200]
    finally:
        doomed.stop()
    httpx.get(stub.base_url + "/stub/release")
