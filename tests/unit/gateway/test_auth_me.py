"""``GET /v1/me``: a key learns its own scopes and limits, and only with itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.auth import KeyStore
from gateway.settings import Settings


@pytest.fixture
def app_and_store(tmp_path: Path) -> Iterator[tuple[TestClient, KeyStore]]:
    settings = Settings(keys_db=tmp_path / "k.db", upstream_url="http://127.0.0.1:9")
    store = KeyStore(settings.keys_db)
    with TestClient(create_app(settings)) as client:
        yield client, store
    store.close()


def _me(client: TestClient, key: str) -> tuple[int, dict[str, object]]:
    r = client.get("/v1/me", headers={"Authorization": f"Bearer {key}"})
    return r.status_code, r.json()


def test_a_key_sees_its_own_scopes_and_limits(app_and_store: tuple[TestClient, KeyStore]) -> None:
    client, store = app_and_store
    key = store.create("alice", scopes=["extract"], rpm=30, max_concurrent=2)
    store.create("bob", scopes=["chat", "extract"])
    status, body = _me(client, key)
    assert status == 200
    assert body["name"] == "alice" and body["scopes"] == ["extract"]
    assert (body["rpm"], body["max_concurrent"], body["expires_at"]) == (30, 2, None)
    assert key.startswith(str(body["prefix"])) and body["object"] == "api_key"
    assert "hash" not in body and key not in str(body)


def test_a_key_without_scopes_may_still_ask(app_and_store: tuple[TestClient, KeyStore]) -> None:
    client, store = app_and_store
    status, body = _me(client, store.create("nobody", scopes=[]))
    assert status == 200 and body["scopes"] == []


def test_refused_keys_get_the_usual_401(app_and_store: tuple[TestClient, KeyStore]) -> None:
    client, store = app_and_store
    revoked = store.create("gone")
    store.revoke("gone")
    assert client.get("/v1/me").status_code == 401
    for key, code in (("sk-" + "x" * 43, "invalid_api_key"), (revoked, "revoked_api_key")):
        status, body = _me(client, key)
        assert status == 401 and body["error"]["code"] == code  # type: ignore[index]


def test_it_counts_against_the_rate_limit(app_and_store: tuple[TestClient, KeyStore]) -> None:
    client, store = app_and_store
    key = store.create("slow", rpm=2)
    assert [_me(client, key)[0] for _ in range(3)] == [200, 200, 429]
