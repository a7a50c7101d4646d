"""`SchemaRegistry` over the SQLite store: built-ins first, versions pinned by number or by
``name@N``, misses named precisely, and a change by another process seen after the TTL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.auth.keys import KeyStore
from gateway.custom import SchemaDefinition, SchemaRegistry, vet
from gateway.custom.store import SchemaExists, SqliteSchemas
from gateway.errors import GatewayError
from gateway.pipeline import BUILTINS, find_schema
from gateway.settings import Settings
from tests.support.bill_of_lading import definition


def stored(**changes: Any) -> dict[str, Any]:
    return vet(SchemaDefinition.model_validate(definition(**changes)), Settings())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteSchemas]:
    keys = KeyStore(tmp_path / "k.db")
    yield SqliteSchemas(keys._db)
    keys.close()


@pytest.mark.anyio
async def test_versions_by_number_and_by_ref(store: SqliteSchemas) -> None:
    await store.create("bill_of_lading", stored(), "admin")
    await store.add_version("bill_of_lading", stored(max_tokens=700), "admin")
    registry = SchemaRegistry(store, ttl=0.05)
    assert (await registry.get("bill_of_lading")).max_tokens == 700
    assert (await find_schema(registry, "bill_of_lading@1")).max_tokens == 512
    assert (await find_schema(registry, "bill_of_lading", 2)).version == 2
    assert (await find_schema(registry, "invoice")).name == "invoice"
    with pytest.raises(SchemaExists):
        await store.create("bill_of_lading", stored(), "admin")


@pytest.mark.anyio
async def test_misses_say_what_is_missing(store: SqliteSchemas) -> None:
    await store.create("bill_of_lading", stored(), "admin")
    registry = SchemaRegistry(store, ttl=0.05)
    with pytest.raises(GatewayError) as caught:
        await registry.get("bill_of_lading", 5, param="schema_version")
    assert (caught.value.status, caught.value.code) == (404, "unknown_schema_version")
    with pytest.raises(GatewayError) as caught:
        await registry.get("nothing_here")
    assert caught.value.code == "unknown_schema" and "bill_of_lading" in caught.value.message
    with pytest.raises(GatewayError) as caught:
        await BUILTINS.get("invoice", 2)
    assert caught.value.code == "unknown_schema_version"


@pytest.mark.anyio
async def test_a_change_by_another_process_is_seen_after_the_ttl(store: SqliteSchemas) -> None:
    registry = SchemaRegistry(store, ttl=0.2)
    with pytest.raises(GatewayError):
        await registry.get("bill_of_lading")  # the miss is cached
    await store.create("bill_of_lading", stored(), "elsewhere")
    with pytest.raises(GatewayError):
        await registry.get("bill_of_lading")
    await asyncio.sleep(0.25)
    assert (await registry.get("bill_of_lading")).version == 1
    registry.forget("bill_of_lading")  # what the writing replica does
    assert [s.name for s in await registry.custom()] == ["bill_of_lading"]


@pytest.mark.anyio
async def test_a_stored_version_is_built_once(store: SqliteSchemas) -> None:
    await store.create("bill_of_lading", stored(), "admin")
    registry = SchemaRegistry(store, ttl=0.0)
    assert await registry.get("bill_of_lading") is await registry.get("bill_of_lading")
