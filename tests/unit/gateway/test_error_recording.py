"""Every failure records its error code in the access log, whichever route and layer refused
it, and image refusals are counted on every route. (Before the fix only some chat refusals
did: 401, 403, 413, 429, 5xx on chat and every /v1/extract failure logged no error_code, and
image refusals on /v1/extract were never counted.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.auth.keys import KeyStore
from gateway.settings import Settings
from tests.support.images import data_url, make_image

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
NOT_AN_IMAGE = "data:image/png;base64,aGVsbG8gd29ybGQ="


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    # Port 9 (discard) refuses connections: every call to the model fails with 503.
    settings = Settings(
        keys_db=tmp_path / "k.db", upstream_url="http://127.0.0.1:9", max_body_bytes=4096
    )
    store = KeyStore(settings.keys_db)
    keys = {
        "all": store.create("all", scopes=["chat", "extract"]),
        "chat": store.create("chat-only", scopes=["chat"]),
        "slow": store.create("rpm1", scopes=["chat"], rpm=1),
    }
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, keys


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.access"]


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def test_every_failure_logs_its_code(
    gateway: tuple[TestClient, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    client, keys = gateway
    caplog.set_level("INFO", logger="gateway.access")
    chat = "/v1/chat/completions"
    cases: list[tuple[str, dict[str, str], Any, int, str]] = [
        (chat, {}, CHAT, 401, "missing_api_key"),
        (chat, _auth("sk-" + "x" * 40), CHAT, 401, "invalid_api_key"),
        ("/v1/extract/receipt", _auth(keys["chat"]), {"image_url": "x"}, 403, "missing_scope"),
        (chat, _auth(keys["all"]), {**CHAT, "pad": "x" * 5000}, 413, "body_too_large"),
        (chat, _auth(keys["all"]), CHAT, 503, "upstream_unavailable"),
        (chat, _auth(keys["slow"]), CHAT, 503, "upstream_unavailable"),
        (chat, _auth(keys["slow"]), CHAT, 429, "rate_limit_exceeded"),
        (
            "/v1/extract/receipt",
            _auth(keys["all"]),
            {"image_url": NOT_AN_IMAGE},
            400,
            "image_not_an_image",
        ),
        (
            "/v1/extract/receipt",
            _auth(keys["all"]),
            {"image_url": data_url(make_image(8, 8))},
            503,
            "upstream_unavailable",
        ),
        ("/v1/extract/nope", _auth(keys["all"]), {"image_url": "x"}, 404, "unknown_schema"),
        ("/v1/extract/receipt", _auth(keys["all"]), {"hint": 3}, 400, "invalid_value"),
        ("/no/such/route", {}, {}, 404, "not_found"),
    ]
    for path, headers, body, status, code in cases:
        caplog.clear()
        r = client.post(path, json=body, headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (path, r.text)
        line = _lines(caplog)[-1]
        assert (line["status"], line.get("error_code")) == (status, code), (path, line)


def test_image_refusals_are_counted_on_extract_and_chat(
    gateway: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = gateway
    headers = _auth(keys["all"])

    def rejected() -> float:
        text = client.get("/metrics", headers=headers).text
        for line in text.splitlines():
            if line.startswith('gateway_images_rejected_total{reason="image_not_an_image"}'):
                return float(line.split()[-1])
        return 0.0

    before = rejected()
    r = client.post("/v1/extract/receipt", json={"image_url": NOT_AN_IMAGE}, headers=headers)
    assert r.status_code == 400
    assert rejected() == before + 1
    image_part = {"type": "image_url", "image_url": {"url": NOT_AN_IMAGE}}
    body = {"model": "m", "messages": [{"role": "user", "content": [image_part]}]}
    assert client.post("/v1/chat/completions", json=body, headers=headers).status_code == 400
    assert rejected() == before + 2
