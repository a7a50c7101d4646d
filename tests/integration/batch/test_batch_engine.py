"""Batch lines answered by the real engine, on all three endpoints, through the openai SDK.

Random weights: extraction lines sample (temperature 1.0, seed 7) so that answers finish, as
the synchronous extraction tests do."""

from __future__ import annotations

import openai
import pytest

from tests.support.batches import jsonl, results, sdk, submit, wait_for
from tests.support.gateway_server import GatewayServer
from tests.support.images import data_url, make_image

IMAGE_URL = data_url(make_image(1024, 768, seed=11))
SAMPLED = {"temperature": 1.0, "seed": 7}
MODEL = "phi-3.5-vision"


@pytest.fixture(scope="module")
def client(engine_gateway: GatewayServer) -> openai.OpenAI:
    key = engine_gateway.create_key("batch-engine", scopes=["chat", "extract"])
    return sdk(engine_gateway.base_url, key)


def _line(custom_id: str, url: str, body: dict[str, object]) -> dict[str, object]:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def test_chat_lines_with_an_image(client: openai.OpenAI) -> None:
    image = {"type": "image_url", "image_url": {"url": IMAGE_URL}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "Describe"}, image]}]
    lines = [
        _line(
            f"chat-{i}",
            "/v1/chat/completions",
            {"model": MODEL, "messages": messages, "max_tokens": 8},
        )
        for i in range(3)
    ]
    lines.append(
        _line(
            "too-many-tokens",
            "/v1/chat/completions",
            {"model": MODEL, "messages": messages, "max_tokens": 10**6},
        )
    )
    done = wait_for(client, submit(client, jsonl(lines)).id, timeout=300)
    assert done.status == "completed", done
    output = results(client, done.output_file_id)
    assert [line["custom_id"] for line in output] == ["chat-0", "chat-1", "chat-2"]
    for line in output:
        body = line["response"]["body"]
        assert body["object"] == "chat.completion" and body["usage"]["completion_tokens"] <= 8
    errors = results(client, done.error_file_id)
    assert [line["custom_id"] for line in errors] == ["too-many-tokens"]
    assert errors[0]["response"]["body"]["error"]["param"] == "max_tokens"


def test_responses_lines(client: openai.OpenAI) -> None:
    lines = [
        _line(
            f"resp-{i}",
            "/v1/responses",
            {"model": MODEL, "input": "Say hello", "max_output_tokens": 8},
        )
        for i in range(2)
    ]
    done = wait_for(client, submit(client, jsonl(lines), "/v1/responses").id, timeout=300)
    assert done.status == "completed", done
    output = results(client, done.output_file_id)
    assert [line["custom_id"] for line in output] == ["resp-0", "resp-1"]
    for line in output:
        assert line["response"]["status_code"] == 200
        assert line["response"]["body"]["object"] == "response"


def test_extraction_lines_run_the_pipeline(client: openai.OpenAI) -> None:
    lines = [
        _line("count", "/v1/extract/people_count", {"image_url": IMAGE_URL, **SAMPLED}),
        _line(
            "unknown-field", "/v1/extract/people_count", {"image_url": IMAGE_URL, "colour": "red"}
        ),
    ]
    batch = submit(client, jsonl(lines), "/v1/extract/people_count")
    done = wait_for(client, batch.id, timeout=300)
    assert done.status == "completed", done
    [answer] = results(client, done.output_file_id)
    body = answer["response"]["body"]
    assert answer["custom_id"] == "count" and body["schema"] == "people_count"
    assert isinstance(body["data"]["count"], int) and body["finish_reason"] == "stop"
    [refused] = results(client, done.error_file_id)
    assert refused["custom_id"] == "unknown-field"
    assert refused["response"]["status_code"] == 400
    assert refused["response"]["body"]["error"]["param"] == "colour"
