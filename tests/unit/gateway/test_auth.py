"""Authentication decisions, the lookup cache's TTL, and the per-key limits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.auth import Authenticator, KeyCache
from gateway.auth.keys import KeyStore
from gateway.auth.limits import KeyLimiter
from gateway.auth.store import SqliteKeys
from gateway.errors import GatewayError


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    s = KeyStore(tmp_path / "keys.db")
    yield s
    s.close()


async def _status(auth: Authenticator, header: str | None) -> tuple[int, str | None]:
    with pytest.raises(GatewayError) as info:
        await auth.authenticate(header)
    return info.value.status, info.value.code


def _cached(store: KeyStore, ttl: float) -> KeyCache:
    return KeyCache(SqliteKeys(store), ttl=ttl)


@pytest.mark.anyio
async def test_authentication_outcomes(store: KeyStore) -> None:
    auth = Authenticator(_cached(store, ttl=0), KeyLimiter())
    good = store.create("good", scopes=["chat"])
    revoked = store.create("revoked")
    store.revoke("revoked")
    expired = store.create("expired", expires_at=time.time() - 5)
    assert (await auth.authenticate(f"Bearer {good}")).name == "good"
    assert await _status(auth, None) == (401, "missing_api_key")
    assert await _status(auth, f"Basic {good}") == (401, "invalid_api_key")
    assert await _status(auth, "Bearer nope") == (401, "invalid_api_key")
    assert await _status(auth, "Bearer sk-" + "a" * 43) == (401, "invalid_api_key")
    assert await _status(auth, f"Bearer {revoked}") == (401, "revoked_api_key")
    assert await _status(auth, f"Bearer {expired}") == (401, "expired_api_key")
    record = await auth.authenticate(f"Bearer {good}")
    with pytest.raises(GatewayError) as info:
        auth.authorize(record, "extract")
    assert info.value.status == 403


@pytest.mark.anyio
async def test_cache_sees_revocation_after_its_ttl(store: KeyStore) -> None:
    key = store.create("alice")
    other = KeyStore(store.path)  # another worker's connection
    cache = _cached(store, ttl=0.2)
    first = await cache.lookup(key)
    assert first is not None and first.is_active()
    other.revoke("alice")
    other.close()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        record = await cache.lookup(key)
        if record is not None and not record.is_active():
            break
        time.sleep(0.05)
    else:
        pytest.fail("revocation never became visible through the cache")


def test_rpm_limit_gives_429_with_retry_after() -> None:
    limiter = KeyLimiter()
    for i in range(3):
        limiter.check_rate("k", rpm=3, now=100.0 + i)
    with pytest.raises(GatewayError) as info:
        limiter.check_rate("k", rpm=3, now=110.0)
    assert info.value.status == 429
    assert info.value.headers is not None
    assert info.value.headers["Retry-After"] == "50"  # oldest hit (t=100) leaves at t=160
    limiter.check_rate("k", rpm=3, now=160.5)  # window moved on


def test_concurrency_limit_and_release() -> None:
    limiter = KeyLimiter()
    a = limiter.acquire("k", limit=2)
    limiter.acquire("k", limit=2)
    with pytest.raises(GatewayError) as info:
        limiter.acquire("k", limit=2)
    assert info.value.status == 429 and info.value.headers == {"Retry-After": "1"}
    a.release()
    a.release()  # idempotent: the second release must not free a second slot
    limiter.acquire("k", limit=2)
    with pytest.raises(GatewayError):
        limiter.acquire("k", limit=2)
    assert limiter.acquire("free", limit=None) is not None
