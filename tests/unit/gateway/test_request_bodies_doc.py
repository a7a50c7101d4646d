"""The chat and Responses bodies are typed in the OpenAPI document, open to other fields, and
what the document calls valid passes the gateway's own checks (with default settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.app import create_app
from gateway.chat.protocol import ChatCompletionRequest
from gateway.chat.validation import validate_chat_request
from gateway.responses.protocol import ResponsesRequest
from gateway.responses.validation import validate_responses_request
from gateway.settings import Settings

PIXEL = "data:image/png;base64,iVBORw0KGgo="
CHAT_BODIES: list[dict[str, Any]] = [
    {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    {
        "model": "m",
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": PIXEL, "detail": "high"}},
                ],
            },
        ],
        "max_tokens": 64,
        "temperature": 0.2,
        "top_p": 0.9,
        "stream": True,
        "stream_options": {"include_usage": True},
        "logprobs": True,
        "top_logprobs": 3,
        "seed": 7,
        "n": 2,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "a", "schema": {"type": "object"}, "strict": True},
        },
        "mm_processor_kwargs": {"num_crops": 4},
        "vllm_only_field": {"anything": 1},
    },
    {
        "model": "m",
        "messages": [{"role": "user", "content": "call it"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
    },
]
RESPONSES_BODIES: list[dict[str, Any]] = [
    {"model": "m", "input": "hi"},
    {
        "model": "m",
        "instructions": "be brief",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "what is this?"},
                    {"type": "input_image", "image_url": PIXEL, "detail": "low"},
                ],
            }
        ],
        "max_output_tokens": 32,
        "text": {"format": {"type": "json_schema", "name": "a", "schema": {"type": "object"}}},
        "stream": False,
    },
]


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    keys_db = Path(tmp_path_factory.mktemp("bodies")) / "keys.db"
    return create_app(Settings(keys_db=keys_db)).openapi()


@pytest.mark.parametrize(
    "path,component,required",
    [
        ("/v1/chat/completions", "ChatCompletionRequest", ["model", "messages"]),
        ("/v1/responses", "ResponsesRequest", ["model", "input"]),
    ],
)
def test_the_body_is_a_typed_component_open_to_other_fields(
    document: dict[str, Any], path: str, component: str, required: list[str]
) -> None:
    body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": f"#/components/schemas/{component}"}
    schema = document["components"]["schemas"][component]
    assert schema["required"] == required and schema["additionalProperties"] is True
    assert {"max_tokens", "max_output_tokens"} & set(schema["properties"])


def test_every_component_a_body_refers_to_is_in_the_document(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    text = repr({k: v for k, v in schemas.items() if k.startswith(("Chat", "Responses"))})
    for name in set(text.split("#/components/schemas/")[1:]):
        assert name.split("'")[0] in schemas


def test_image_parts_are_declared(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["ChatImageURL"]["required"] == ["url"]
    assert schemas["ResponsesInputImage"]["properties"]["type"]["const"] == "input_image"


@pytest.mark.parametrize("body", CHAT_BODIES)
def test_a_documented_chat_body_passes_the_checks(body: dict[str, Any]) -> None:
    ChatCompletionRequest.model_validate(body)
    validate_chat_request(body, Settings())


@pytest.mark.parametrize("body", RESPONSES_BODIES)
def test_a_documented_responses_body_passes_the_checks(body: dict[str, Any]) -> None:
    ResponsesRequest.model_validate(body)
    validate_responses_request(body, Settings())
