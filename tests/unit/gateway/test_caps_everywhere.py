"""Extraction obeys the same caps as chat: the operator's num_crops range and max_tokens cap,
with the same error code. (Before the fix, /v1/extract sent a schema's 16 crops whatever
``GATEWAY_NUM_CROPS_MAX`` said, and refused a large max_tokens with a code of its own.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import schemas
from gateway.app import create_app
from gateway.auth.keys import KeyStore
from gateway.settings import Settings
from tests.support.images import data_url, make_image
from tests.unit.gateway.test_extract_answers import FixedAnswer

IMAGE = data_url(make_image(64, 48))
INVOICE = json.dumps(schemas.get("invoice").example.model_dump(mode="json"))


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[tuple[TestClient, str, FixedAnswer]]:
    settings = Settings(
        keys_db=tmp_path / "k.db",
        upstream_url="http://127.0.0.1:9",
        num_crops_min=2,
        num_crops_max=8,
        max_tokens_cap=300,
    )
    key = KeyStore(settings.keys_db).create("t", scopes=["extract", "chat"])
    upstream = FixedAnswer(INVOICE)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.app.state.upstream = upstream  # type: ignore[attr-defined]
        yield client, key, upstream


def _post(client: TestClient, key: str, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json=body, headers={"Authorization": f"Bearer {key}"})


def test_schema_default_crops_and_budget_are_clamped_to_the_operator_caps(
    capped: tuple[TestClient, str, FixedAnswer],
) -> None:
    client, key, upstream = capped
    assert schemas.get("invoice").num_crops == 16  # the recommendation that must be clamped
    r = _post(client, key, "/v1/extract/invoice", {"image_url": IMAGE})
    assert r.status_code == 200, r.text
    sent = upstream.sent[-1]
    assert sent["mm_processor_kwargs"] == {"num_crops": 8}
    assert sent["max_tokens"] == min(schemas.get("invoice").max_tokens, 300)


def test_multi_schema_extraction_is_clamped_too(
    capped: tuple[TestClient, str, FixedAnswer],
) -> None:
    client, key, upstream = capped
    r = _post(client, key, "/v1/extract", {"image_url": IMAGE, "schemas": ["invoice"]})
    assert r.status_code == 200, r.text
    assert upstream.sent[-1]["mm_processor_kwargs"] == {"num_crops": 8}


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("num_crops", 12, "between 2 and 8"),
        ("num_crops", 1, "between 2 and 8"),
        ("max_tokens", 301, "between 1 and 300"),
    ],
)
def test_explicit_values_outside_the_caps_are_refused_like_chat(
    capped: tuple[TestClient, str, FixedAnswer], field: str, value: int, limit: str
) -> None:
    client, key, upstream = capped
    for path in ("/v1/extract/invoice", "/v1/extract"):
        body: dict[str, Any] = {"image_url": IMAGE, field: value}
        if path == "/v1/extract":
            body["schemas"] = ["invoice"]
        r = _post(client, key, path, body)
        error = r.json()["error"]
        assert (r.status_code, error["code"], error["param"]) == (400, "invalid_value", field)
        assert limit in error["message"]
    assert upstream.sent == []
    chat_field = {"num_crops": "mm_processor_kwargs", "max_tokens": "max_tokens"}[field]
    chat: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    chat[chat_field] = {"num_crops": value} if field == "num_crops" else value
    r = _post(client, key, "/v1/chat/completions", chat)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_value")
    assert limit in r.json()["error"]["message"]
