"""How the extraction API treats the engine's answer: typed data, truncation, failed validators.

Guided decoding keeps the real engine from ever producing an answer that breaks the schema's
own validators, so this fault — a model answer that parses but is semantically wrong — is
injected by replacing the app's upstream with one that returns a fixed completion.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import schemas
from gateway.app import create_app
from gateway.auth.keys import KeyStore
from gateway.settings import Settings
from tests.support.images import data_url, make_image

IMAGE = data_url(make_image(64, 48))


class FixedAnswer:
    """Stands in for ``Upstream``: records the request, returns one completion."""

    def __init__(self, content: str, finish_reason: str = "stop") -> None:
        self.content = content
        self.finish_reason = finish_reason
        self.sent: list[dict[str, Any]] = []

    async def complete_json(
        self, body: bytes, state: Any, route: str, affinity: bytes | None = None
    ) -> dict[str, Any]:
        self.sent.append(json.loads(body))
        self.affinity = affinity
        return {
            "id": "chatcmpl-1",
            "model": "phi-3.5-vision",
            "choices": [
                {
                    "message": {"content": self.content},
                    "finish_reason": self.finish_reason,
                }
            ],
            "usage": {"prompt_tokens": 900, "completion_tokens": 12, "total_tokens": 912},
        }


@pytest.fixture
def app_and_key(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    settings = Settings(keys_db=tmp_path / "k.db", upstream_url="http://127.0.0.1:9")
    key = KeyStore(settings.keys_db).create("t", scopes=["extract"])
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, key


def post(
    client: TestClient, key: str, upstream: FixedAnswer, path: str, body: dict[str, Any]
) -> httpx.Response:
    client.app.state.upstream = upstream  # type: ignore[attr-defined]
    return client.post(path, json=body, headers={"Authorization": f"Bearer {key}"})


def test_valid_answer_is_returned_typed(app_and_key: tuple[TestClient, str]) -> None:
    client, key = app_and_key
    answer = FixedAnswer('{"count":3,"confidence":"high"}')
    r = post(client, key, answer, "/v1/extract/people_count", {"image_url": IMAGE})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"count": 3, "confidence": "high"}
    sent = answer.sent[0]
    assert sent["response_format"] == schemas.get("people_count").response_format()
    assert sent["mm_processor_kwargs"] == {"num_crops": schemas.get("people_count").num_crops}
    assert sent["temperature"] == 0.0
    assert answer.affinity is not None and len(answer.affinity) == 32  # routed by image digest
    system, user = sent["messages"]
    assert system["role"] == "system"
    assert [p["type"] for p in user["content"]] == ["image_url", "text"]  # image before text


def test_semantic_validation_failure_is_422_with_field_errors(
    app_and_key: tuple[TestClient, str],
) -> None:
    client, key = app_and_key
    answer = FixedAnswer('{"count":-4,"confidence":"high"}')  # parses, breaks count >= 0
    r = post(client, key, answer, "/v1/extract/people_count", {"image_url": IMAGE})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "output_invalid" and error["param"] == "data.count"
    assert error["details"]["errors"][0]["field"] == "count"
    assert error["details"]["raw_output"] == answer.content
    assert "data" not in r.json()


def test_truncated_answer_is_422_naming_schema_and_budget(
    app_and_key: tuple[TestClient, str],
) -> None:
    client, key = app_and_key
    answer = FixedAnswer('{"count":3,"conf', finish_reason="length")
    body = {"image_url": IMAGE, "max_tokens": 7}
    r = post(client, key, answer, "/v1/extract/people_count", body)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "output_truncated" and error["param"] == "max_tokens"
    assert "people_count" in error["message"] and "max_tokens=7" in error["message"]


def test_hint_goes_after_the_instructions(app_and_key: tuple[TestClient, str]) -> None:
    client, key = app_and_key
    answer = FixedAnswer('{"count":1,"confidence":"low"}')
    body = {"image_url": IMAGE, "hint": "count only adults"}
    post(client, key, answer, "/v1/extract/people_count", body)
    text = answer.sent[0]["messages"][1]["content"][1]["text"]
    assert text.startswith(schemas.get("people_count").instructions)
    assert text.endswith("count only adults")


def test_max_tokens_over_the_cap_is_refused(app_and_key: tuple[TestClient, str]) -> None:
    client, key = app_and_key
    body = {"image_url": IMAGE, "max_tokens": 10**6}
    r = post(client, key, FixedAnswer("{}"), "/v1/extract/scene", body)
    assert r.status_code == 400 and r.json()["error"]["param"] == "max_tokens"


def test_unknown_field_and_wrong_type_name_the_field(app_and_key: tuple[TestClient, str]) -> None:
    client, key = app_and_key
    r = post(client, key, FixedAnswer("{}"), "/v1/extract/scene", {"image_url": IMAGE, "crops": 4})
    assert r.status_code == 400 and r.json()["error"]["param"] == "crops"
    body = {"image_url": IMAGE, "num_crops": 40}
    r = post(client, key, FixedAnswer("{}"), "/v1/extract/scene", body)
    assert r.status_code == 400 and r.json()["error"]["param"] == "num_crops"


def test_logprobs_are_asked_for_and_their_absence_asks_for_review(
    app_and_key: tuple[TestClient, str],
) -> None:
    client, key = app_and_key
    answer = FixedAnswer('{"count":3,"confidence":"high"}')  # a server that sent no logprobs
    r = post(client, key, answer, "/v1/extract/people_count", {"image_url": IMAGE})
    assert answer.sent[0]["logprobs"] is True and "top_logprobs" not in answer.sent[0]
    body = r.json()
    assert body["confidence"] is None and body["checks"] == [] and body["review"] is True


def test_confidence_false_sends_no_logprobs_and_reviews_on_checks_only(
    app_and_key: tuple[TestClient, str],
) -> None:
    client, key = app_and_key
    answer = FixedAnswer('{"count":3,"confidence":"high"}')
    body = {"image_url": IMAGE, "confidence": False}
    r = post(client, key, answer, "/v1/extract/people_count", body)
    assert "logprobs" not in answer.sent[0]
    assert r.json()["confidence"] is None and r.json()["review"] is False


def test_repair_reads_once_more_at_the_schemas_largest_crops(
    app_and_key: tuple[TestClient, str],
) -> None:
    client, key = app_and_key
    answer = FixedAnswer('{"title":null,"columns":["a"],"rows":[["1","2"]]}')
    body = {"image_url": IMAGE, "num_crops": 2, "confidence": False, "verify": "repair"}
    r = post(client, key, answer, "/v1/extract/table", body)
    assert r.status_code == 200, r.text
    assert len(answer.sent) == 2  # the row is one cell too long: one repair reading, no more
    assert [s["mm_processor_kwargs"]["num_crops"] for s in answer.sent] == [2, 16]
    assert "2 cells" not in answer.sent[0]["messages"][1]["content"][1]["text"]
    assert "row 1 has 2" in answer.sent[1]["messages"][1]["content"][1]["text"]
    repair = r.json()["repair"]
    assert repair["chosen"] == 0 and len(repair["attempts"]) == 2
    assert r.json()["usage"]["total_tokens"] == 2 * 912


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"line_items": [{"description": "x", "amount": "lots"}]}, 422, "line_items.0.amount"),
        ({"line_items": [], "extra": 1}, 422, "extra"),
        ({}, 422, "line_items"),
    ],
)
def test_verify_names_the_bad_field(
    app_and_key: tuple[TestClient, str], body: dict[str, Any], status: int, param: str
) -> None:
    client, key = app_and_key
    r = client.post("/v1/verify/invoice", json=body, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == status and r.json()["error"]["param"] == param
    assert r.json()["error"]["code"] == "data_invalid"


def test_verify_refuses_what_is_not_an_object(app_and_key: tuple[TestClient, str]) -> None:
    client, key = app_and_key
    headers = {"Authorization": f"Bearer {key}"}
    r = client.post("/v1/verify/invoice", content=b"[1]", headers=headers)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    r = client.post("/v1/verify/visa", json={}, headers=headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_schema"
