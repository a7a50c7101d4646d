"""Every error leaving the app has the OpenAI shape, and a 500 shows no stack trace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from gateway.app import DEFAULT_ROUTERS, create_app
from gateway.auth.keys import KeyStore
from gateway.errors import ErrorCode, GatewayError, error_body
from gateway.settings import Settings

boom = APIRouter()


@boom.get("/boom")
async def _boom() -> None:
    raise RuntimeError("secret internals: /etc/shadow")


@boom.get("/typed/{n}")
async def _typed(n: int) -> dict[str, int]:
    return {"n": n}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    settings = Settings(keys_db=tmp_path / "k.db", upstream_url="http://127.0.0.1:9")
    key = KeyStore(settings.keys_db).create("t")
    app = create_app(settings, routers=(*DEFAULT_ROUTERS, boom))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c, key


def _assert_shape(body: Any) -> dict[str, Any]:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])


def test_error_helpers_shape() -> None:
    assert error_body("m", "t") == {
        "error": {"message": "m", "type": "t", "param": None, "code": None}
    }
    big = GatewayError(413, "big", code=ErrorCode.BODY_TOO_LARGE).response()
    assert big.status_code == 413 and b'"code": "body_too_large"' in big.body
    err = GatewayError(
        429, "slow down", code=ErrorCode.RATE_LIMIT_EXCEEDED, headers={"Retry-After": "2"}
    )
    assert err.type == "rate_limit_error" and err.response().headers["retry-after"] == "2"


def test_404_405_validation_and_500_are_openai_shaped(client: tuple[TestClient, str]) -> None:
    c, _ = client
    r = c.get("/no/such/route")
    assert r.status_code == 404 and _assert_shape(r.json())["type"] == "not_found_error"
    r = c.put("/health")
    assert r.status_code == 405
    _assert_shape(r.json())
    r = c.get("/typed/notanumber")
    assert r.status_code == 400 and _assert_shape(r.json())["param"] == "n"
    r = c.get("/boom")
    assert r.status_code == 500
    err = _assert_shape(r.json())
    assert "secret" not in r.text and "Traceback" not in r.text and err["type"] == "internal_error"
    assert r.headers["x-request-id"]


def test_auth_errors_are_openai_shaped(client: tuple[TestClient, str]) -> None:
    c, key = client
    r = c.post("/v1/chat/completions", json={})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert _assert_shape(r.json())["code"] == "missing_api_key"
    r = c.get("/metrics")
    assert r.status_code == 401
    r = c.get("/metrics", headers={"authorization": f"Bearer {key}"})
    assert r.status_code == 200 and "gateway_requests_total" in r.text


def test_upstream_down_is_503_and_ready_says_so(client: tuple[TestClient, str]) -> None:
    c, key = client
    r = c.post(
        "/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 503 and _assert_shape(r.json())["type"] == "upstream_unavailable"
    assert c.get("/ready").status_code == 503
    assert c.get("/health").json() == {"status": "ok"}


def test_request_id_is_echoed_or_made(client: tuple[TestClient, str]) -> None:
    c, _ = client
    assert c.get("/health", headers={"x-request-id": "abc-123"}).headers["x-request-id"] == (
        "abc-123"
    )
    made = c.get("/health", headers={"x-request-id": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    again = c.get("/health").headers["x-request-id"]
    assert again != made.headers["x-request-id"]  # made ids never repeat


def test_openapi_and_docs_need_no_key(client: tuple[TestClient, str]) -> None:
    c, _ = client
    spec = c.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert {"/v1/chat/completions", "/v1/models", "/health", "/ready", "/metrics"} <= set(paths)
    assert c.get("/docs").status_code == 200
    # chat.completions is a plain Starlette route, documented by hand: it must still say that
    # it takes a key and a JSON body.
    chat = paths["/v1/chat/completions"]["post"]
    assert chat["security"] == [{"GatewayKey": []}]
    assert "application/json" in chat["requestBody"]["content"]
    assert "GatewayKey" in spec.json()["components"]["securitySchemes"]


def test_two_apps_in_one_process_have_separate_metrics(tmp_path: Path) -> None:
    a = create_app(Settings(keys_db=tmp_path / "a.db"))
    b = create_app(Settings(keys_db=tmp_path / "b.db"))
    assert a.state.metrics.registry is not b.state.metrics.registry
