"""The same behaviour from both key stores: SQLite (one machine) and PostgreSQL (replicas)."""

from __future__ import annotations

import time

import pytest

from gateway.auth.keys import PREFIX_LEN, KeyStoreError
from gateway.auth.store import KeyBackend, open_key_store

from .conftest import BOTH_STORES

pytestmark = [pytest.mark.anyio, BOTH_STORES]


async def test_lookup_finds_the_key_and_refuses_others(key_store: KeyBackend) -> None:
    key = await key_store.create("alice", scopes=["chat"], rpm=60, max_concurrent=2)
    record = await key_store.lookup(key)
    assert record is not None and record.is_active()
    assert (record.name, record.prefix) == ("alice", key[:PREFIX_LEN])
    assert (record.scopes, record.rpm, record.max_concurrent) == (frozenset({"chat"}), 60, 2)
    assert abs(record.created_at - time.time()) < 60
    assert await key_store.lookup(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert await key_store.lookup("sk-" + "x" * 43) is None
    assert await key_store.lookup("not a key") is None


async def test_revoke_by_name_and_by_prefix(key_store: KeyBackend) -> None:
    a = await key_store.create("a")
    b = await key_store.create("b")
    assert (await key_store.revoke("a")).name == "a"
    assert (await key_store.revoke(b[:PREFIX_LEN])).name == "b"
    for key in (a, b):
        record = await key_store.lookup(key)
        assert record is not None and record.revoked_at is not None and not record.is_active()
    with pytest.raises(KeyStoreError, match="no active key"):
        await key_store.revoke("a")


async def test_active_names_are_unique_until_revoked(key_store: KeyBackend) -> None:
    await key_store.create("alice")
    with pytest.raises(KeyStoreError, match="exists"):
        await key_store.create("alice")
    await key_store.revoke("alice")
    again = await key_store.create("alice")
    assert (await key_store.lookup(again)) is not None


@pytest.mark.parametrize(
    "kwargs",
    [{"name": ""}, {"name": "a,b"}, {"name": "sk-x"}, {"scopes": ["admin"]}, {"rpm": 0}],
)
async def test_bad_create_arguments_are_refused(
    key_store: KeyBackend, kwargs: dict[str, object]
) -> None:
    args: dict[str, object] = {"name": "n", **kwargs}
    with pytest.raises(KeyStoreError):
        await key_store.create(**args)  # type: ignore[arg-type]
    assert await key_store.list() == []


async def test_expiry_is_kept_to_the_second(key_store: KeyBackend) -> None:
    past = await key_store.create("old", expires_at=time.time() - 5)
    future_at = time.time() + 3600
    future = await key_store.create("new", expires_at=future_at)
    old, new = await key_store.lookup(past), await key_store.lookup(future)
    assert old is not None and not old.is_active()
    assert new is not None and new.is_active() and abs((new.expires_at or 0) - future_at) < 0.01


async def test_list_is_in_creation_order_and_holds_no_secrets(key_store: KeyBackend) -> None:
    keys = [await key_store.create(name) for name in ("x", "y", "z")]
    records = await key_store.list()
    assert [r.name for r in records] == ["x", "y", "z"]
    assert all(key not in repr(records) for key in keys)


async def test_migrations_are_versioned_and_idempotent(
    key_store: KeyBackend, keys_target: str
) -> None:
    applied, newest = await key_store.schema_version()
    assert applied == newest >= 1
    assert await key_store.migrate() == []
    again = open_key_store(keys_target)
    try:
        assert await again.migrate() == []
        assert await again.schema_version() == (applied, newest)
    finally:
        await again.close()


async def test_two_stores_on_one_database_see_each_others_changes(
    key_store: KeyBackend, keys_target: str
) -> None:
    other = open_key_store(keys_target)  # another replica's connection
    try:
        key = await key_store.create("alice")
        found = await other.lookup(key)
        assert found is not None and found.is_active()
        await other.revoke("alice")
        again = await key_store.lookup(key)
        assert again is not None and not again.is_active()
    finally:
        await other.close()


async def test_a_keys_webhook_secret_is_kept_to_sign_with(key_store: KeyBackend) -> None:
    key = await key_store.create("alice")
    prefix = key[:PREFIX_LEN]
    assert await key_store.webhook_secret(prefix) is None
    assert (await key_store.set_webhook_secret("alice", "whsec_one")).prefix == prefix
    assert await key_store.webhook_secret(prefix) == "whsec_one"
    await key_store.set_webhook_secret(prefix, "whsec_two")
    assert await key_store.webhook_secret(prefix) == "whsec_two"
    await key_store.set_webhook_secret("alice", None)
    assert await key_store.webhook_secret(prefix) is None
    await key_store.revoke("alice")
    with pytest.raises(KeyStoreError, match="no active key"):
        await key_store.set_webhook_secret("alice", "whsec_three")
