"""Registered schemas on two gateway processes sharing one PostgreSQL: a schema created,
changed or deleted through one is served so by the other within a second (each replica
reads the database at most once per key-cache TTL), and a restarted gateway still has it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.bill_of_lading import GOOD_ANSWER, definition
from tests.support.gateway_server import GatewayServer, Proc, start_gateway
from tests.support.pg import PostgresServer

from .gateways import wait_for


@pytest.fixture(scope="module")
def env(postgres_server: PostgresServer) -> dict[str, str]:
    return {
        "GATEWAY_KEYS_DB": postgres_server.fresh_database("custom_schemas"),
        "GATEWAY_KEY_CACHE_TTL_S": "1.0",  # the longest allowed
    }


@pytest.fixture(scope="module")
def pair(
    stub: Proc, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[GatewayServer, GatewayServer]]:
    work = tmp_path_factory.mktemp("custom-gateways")
    a = start_gateway(stub.base_url, work, **env)
    try:
        b = start_gateway(stub.base_url, work, **env)
    except BaseException:
        a.stop()
        raise
    yield a, b
    a.stop()
    b.stop()


def _client(gw: GatewayServer, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=gw.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def _verify_status(api: httpx.Client) -> int:
    return api.post("/v1/verify/bill_of_lading", json=GOOD_ANSWER).status_code


def _version(api: httpx.Client) -> int | None:
    r = api.get("/v1/schemas/bill_of_lading")
    return r.json()["version"] if r.status_code == 200 else None


def test_a_schema_written_through_one_gateway_is_served_by_the_other_within_a_second(
    pair: tuple[GatewayServer, GatewayServer],
) -> None:
    a, b = pair
    key = a.create_key("schema-admin", scopes=["extract", "schemas"])
    with _client(a, key) as on_a, _client(b, key) as on_b:
        assert _verify_status(on_b) == 404  # B has looked, and cached the miss
        assert on_a.post("/v1/schemas", json=definition()).status_code == 201
        took = wait_for(lambda: _verify_status(on_b) == 200, "the schema on B", 1.0)
        print(f"created through A, served by B after {took * 1000:.0f} ms")
        v2 = definition(max_tokens=700)
        assert on_a.put("/v1/schemas/bill_of_lading", json=v2).status_code == 200
        wait_for(lambda: _version(on_b) == 2, "version 2 on B", 1.0)
        assert on_b.get("/v1/schemas/bill_of_lading?version=1").json()["max_tokens"] == 512
        assert on_b.delete("/v1/schemas/bill_of_lading").status_code == 200
        wait_for(lambda: _verify_status(on_a) == 404, "the deletion on A", 1.0)


def test_a_schema_outlives_a_gateway_restart(
    stub: Proc, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("restart")
    first = start_gateway(stub.base_url, work, **env)
    try:
        key = first.create_key("restart-admin", scopes=["extract", "schemas"])
        with _client(first, key) as api:
            api.delete("/v1/schemas/bill_of_lading")
            assert api.post("/v1/schemas", json=definition()).status_code == 201
    finally:
        first.stop()
    second = start_gateway(stub.base_url, work, **env)
    try:
        with _client(second, key) as api:
            assert _version(api) == 1
            assert _verify_status(api) == 200
            api.delete("/v1/schemas/bill_of_lading")
    finally:
        second.stop()
