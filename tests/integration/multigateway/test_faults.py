"""Faults with the real servers: Redis or PostgreSQL stopped under a running gateway, then
started again at the same address. Each test owns its servers (it stops them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from gateway.auth.revocation import CHANNEL
from tests.support.gateway_server import GatewayServer, Proc, start_gateway
from tests.support.pg import PostgresServer
from tests.support.redis_server import RedisServer

from .gateways import chat, error_code, wait_for


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer.create()
    yield server
    server.destroy()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer.create()
    yield server
    server.destroy()


def _listeners(server: RedisServer) -> int:
    """Gateway processes subscribed to the revocation channel."""
    client = redis.Redis.from_url(server.url)
    try:
        return int(dict(client.pubsub_numsub(CHANNEL))[CHANNEL.encode()])
    finally:
        client.close()


def _limiter_errors(gw: GatewayServer, key: str) -> float:
    text = httpx.get(gw.base_url + "/metrics", headers={"authorization": f"Bearer {key}"}).text
    found = re.search(r"^gateway_limiter_errors_total (\S+)$", text, re.M)
    assert found, "gateway_limiter_errors_total missing from /metrics"
    return float(found.group(1))


def test_redis_down_fails_open_with_a_warning_and_a_metric_then_recovers(
    stub: Proc, own_redis: RedisServer, tmp_path: Path
) -> None:
    gw = start_gateway(stub.base_url, tmp_path, GATEWAY_REDIS_URL=own_redis.url)
    try:
        key = gw.create_key("limited", rpm=2)
        assert [chat(gw, key).status_code for _ in range(3)] == [200, 200, 429]
        own_redis.stop()
        assert [chat(gw, key).status_code for _ in range(3)] == [200, 200, 200]  # open
        assert _limiter_errors(gw, key) >= 3
        assert gw.log.read_text().count("Redis unreachable for rate limits") == 1
        own_redis.start()  # same port, empty: the window starts again
        wait_for(lambda: chat(gw, key).status_code == 429, "limits to hold again", 10)
        wait_for(lambda: _listeners(own_redis) == 1, "the revocation channel to return", 10)
    finally:
        gw.stop()


def test_redis_down_fails_closed_when_asked(
    stub: Proc, own_redis: RedisServer, tmp_path: Path
) -> None:
    gw = start_gateway(
        stub.base_url,
        tmp_path,
        GATEWAY_REDIS_URL=own_redis.url,
        GATEWAY_LIMITS_FAIL_MODE="closed",
    )
    try:
        key = gw.create_key("limited", rpm=100)
        unlimited = gw.create_key("unlimited")
        assert chat(gw, key).status_code == 200
        own_redis.stop()
        refused = chat(gw, key)
        assert refused.status_code == 503 and error_code(refused) == "limiter_unavailable"
        assert "limiter unavailable" in refused.json()["error"]["message"]
        assert chat(gw, unlimited).status_code == 200  # nothing to count, nothing to refuse
        own_redis.start()
        wait_for(lambda: chat(gw, key).status_code == 200, "Redis to be back", 10)
    finally:
        gw.stop()


def test_postgres_down_keeps_recent_keys_refuses_others_with_503_and_recovers(
    stub: Proc, own_postgres: PostgresServer, tmp_path: Path
) -> None:
    gw = start_gateway(
        stub.base_url,
        tmp_path,
        GATEWAY_KEYS_DB=own_postgres.url,
        GATEWAY_KEY_CACHE_TTL_S="0.2",
        GATEWAY_KEYS_DB_TIMEOUT_S="1",
    )
    try:
        seen = gw.create_key("seen")
        unseen = gw.create_key("unseen")
        assert chat(gw, seen).status_code == 200
        own_postgres.stop()
        for _ in range(3):  # well past the 0.2 s TTL: served from the last known record
            assert chat(gw, seen).status_code == 200
        refused = chat(gw, unseen)
        assert refused.status_code == 503, refused.text
        assert error_code(refused) == "key_store_unavailable"
        assert "key store is unreachable" in refused.json()["error"]["message"]
        assert refused.headers["retry-after"] == "1"
        own_postgres.start()
        wait_for(lambda: chat(gw, unseen).status_code == 200, "the database to be back", 15)
        assert chat(gw, seen).status_code == 200
    finally:
        gw.stop()
