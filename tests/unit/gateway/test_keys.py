"""The SQLite key store: hashes only, constant-time compare, revocation, expiry, sharing."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

import pytest

from gateway.auth import keys as keys_module
from gateway.auth.keys import KEY_PATTERN, PREFIX_LEN, KeyStore, KeyStoreError


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    s = KeyStore(tmp_path / "keys.db")
    yield s
    s.close()


def test_created_key_is_random_and_recognisable(store: KeyStore) -> None:
    a = store.create("a")
    b = store.create("b")
    assert a != b
    assert a.startswith("sk-") and KEY_PATTERN.fullmatch(a)
    assert len(a) - 3 >= 32  # >= 192 bits of base64 text, 256 bits of randomness


def test_only_the_hash_is_stored(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.db")
    key = store.create("alice")
    store.close()
    raw = (tmp_path / "keys.db").read_bytes()
    for suffix in ("-wal", "-shm"):
        extra = tmp_path / f"keys.db{suffix}"
        if extra.exists():
            raw += extra.read_bytes()
    assert key.encode() not in raw
    db = sqlite3.connect(tmp_path / "keys.db")
    (stored,) = db.execute("SELECT hash FROM api_keys").fetchone()
    db.close()
    assert stored == hashlib.sha256(key.encode()).hexdigest()


def test_lookup_finds_the_key_and_refuses_others(store: KeyStore) -> None:
    key = store.create("alice", scopes=["chat"], rpm=10, max_concurrent=2)
    record = store.lookup(key)
    assert record is not None
    assert (record.name, record.scopes, record.rpm, record.max_concurrent) == (
        "alice",
        frozenset({"chat"}),
        10,
        2,
    )
    assert record.prefix == key[:PREFIX_LEN]
    # Same prefix, different secret: found by prefix, refused by the hash comparison.
    forged = key[:PREFIX_LEN] + ("A" if key[PREFIX_LEN] != "A" else "B") + key[PREFIX_LEN + 1 :]
    assert store.lookup(forged) is None
    assert store.lookup("sk-" + "x" * 43) is None
    assert store.lookup("not a key") is None


def test_hash_comparison_is_constant_time(store: KeyStore, monkeypatch: pytest.MonkeyPatch) -> None:
    key = store.create("alice")
    calls: list[tuple[str, str]] = []
    real = keys_module.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(keys_module.hmac, "compare_digest", spy)
    assert store.lookup(key) is not None
    assert calls, "lookup must compare hashes with hmac.compare_digest"


def test_revoke_by_name_and_by_prefix(store: KeyStore) -> None:
    a = store.create("alice")
    b = store.create("bob")
    store.revoke("alice")
    store.revoke(b[:PREFIX_LEN])
    ra, rb = store.lookup(a), store.lookup(b)
    assert ra is not None and rb is not None
    assert not ra.is_active() and ra.revoked_at is not None
    assert not rb.is_active()
    with pytest.raises(KeyStoreError):
        store.revoke("alice")  # nothing active left under that name
    # The name is free again once revoked.
    assert store.lookup(store.create("alice")) is not None


def test_active_names_are_unique(store: KeyStore) -> None:
    store.create("alice")
    with pytest.raises(KeyStoreError, match="exists"):
        store.create("alice")


@pytest.mark.parametrize("kwargs", [{"scopes": ["admin"]}, {"rpm": 0}, {"max_concurrent": -1}])
def test_bad_create_arguments_are_refused(store: KeyStore, kwargs: dict[str, object]) -> None:
    with pytest.raises(KeyStoreError):
        store.create("x", **kwargs)  # type: ignore[arg-type]


def test_expired_key_is_inactive(store: KeyStore) -> None:
    old = store.create("old", expires_at=time.time() - 1)
    new = store.create("new", expires_at=time.time() + 3600)
    r_old, r_new = store.lookup(old), store.lookup(new)
    assert r_old is not None and not r_old.is_active()
    assert r_new is not None and r_new.is_active()


def test_list_holds_no_secrets(store: KeyStore) -> None:
    key = store.create("alice")
    (record,) = store.list()
    assert record.name == "alice" and record.prefix == key[:PREFIX_LEN]
    assert key not in repr(record)


def test_keys_survive_reopening(tmp_path: Path) -> None:
    first = KeyStore(tmp_path / "k.db")
    key = first.create("alice")
    first.close()
    second = KeyStore(tmp_path / "k.db")
    assert second.lookup(key) is not None
    second.close()


def test_two_stores_on_one_file_see_each_others_changes(tmp_path: Path) -> None:
    one, two = KeyStore(tmp_path / "k.db"), KeyStore(tmp_path / "k.db")
    key = one.create("alice")
    found = two.lookup(key)
    assert found is not None and found.is_active()
    two.revoke("alice")
    again = one.lookup(key)
    assert again is not None and not again.is_active()
    mode = one._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    one.close()
    two.close()
