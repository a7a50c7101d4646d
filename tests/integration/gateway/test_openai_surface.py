"""The OpenAI surface clients reach for, through the real gateway and engine: the Responses API
(images, streaming, ``responses.parse``), and forced function calls as instructor's default
mode and LangChain's ``function_calling`` structured output send them.

The model has random weights, so typed answers use small bounded models (``Literal`` fields)
under guided decoding with a fixed ``seed``, and the checks are on shape, types and token
counts, never on meaning.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Literal

import httpx
import instructor
import openai
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from tests.support.gateway_server import GatewayServer
from tests.support.images import image_bytes, make_image

pytestmark = pytest.mark.engine

IMAGE_TOKENS_AT_4_CROPS = 757
SEED = {"seed": 1}
"""The SDK's responses methods have no ``seed``; vLLM takes it as an extra field."""


class Scene(BaseModel):
    label: Literal["indoor", "outdoor"]
    has_people: bool


class Count(BaseModel):
    """How many things the picture shows."""

    n: Literal[1, 2, 3]
    kind: Literal["cat", "dog"]


@pytest.fixture
def model(vllm_engine: Any) -> str:
    return str(vllm_engine.model)


def _png_data_url() -> str:
    data = image_bytes(make_image(640, 480, seed=3), "PNG")
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _image_input(url: str, text: str = "Describe the picture.") -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": text},
                {"type": "input_image", "image_url": url, "detail": "auto"},
            ],
        }
    ]


# --- /v1/responses ---------------------------------------------------------------------------


def test_responses_create_with_an_image_data_url(client: openai.OpenAI, model: str) -> None:
    response = client.responses.create(
        model=model,
        input=_image_input(_png_data_url()),
        max_output_tokens=8,
        extra_body=SEED,
    )
    assert response.object == "response" and response.status in ("completed", "incomplete")
    assert response.usage is not None
    assert response.usage.input_tokens > IMAGE_TOKENS_AT_4_CROPS
    assert 0 < response.usage.output_tokens <= 8
    assert isinstance(response.output_text, str)


def test_responses_image_url_is_fetched_by_the_gateway(
    client: openai.OpenAI, model: str, image_server: str
) -> None:
    response = client.responses.create(
        model=model,
        instructions="Answer briefly.",
        input=_image_input(image_server + "/cat.jpg"),
        max_output_tokens=4,
    )
    assert response.usage is not None
    assert response.usage.input_tokens > IMAGE_TOKENS_AT_4_CROPS


def test_responses_images_get_the_chat_image_checks(
    client: openai.OpenAI, model: str, image_server: str
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(
            model=model, input=_image_input(image_server + "/to-metadata"), max_output_tokens=4
        )
    error = info.value.body
    assert isinstance(error, dict) and error["param"] == "input[0].content[1].image_url"
    assert str(error["code"]).startswith("image_")


def test_responses_parse_returns_the_users_model(client: openai.OpenAI, model: str) -> None:
    response = client.responses.parse(
        model=model,
        input=_image_input(_png_data_url(), "Classify the scene."),
        text_format=Scene,
        max_output_tokens=60,
        extra_body=SEED,
    )
    assert isinstance(response.output_parsed, Scene)
    assert response.status == "completed"


def test_responses_stream_ends_with_the_completed_response(
    client: openai.OpenAI, model: str
) -> None:
    stream = client.responses.create(
        model=model,
        input=_image_input(_png_data_url()),
        max_output_tokens=12,
        extra_body=SEED,
        stream=True,
    )
    events = list(stream)
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and "response.output_text.delta" in kinds
    last = events[-1]
    assert last.type in ("response.completed", "response.incomplete")
    final = last.response
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == final.output_text
    assert final.usage is not None and final.usage.input_tokens > IMAGE_TOKENS_AT_4_CROPS
    assert 0 < final.usage.output_tokens <= 12


@pytest.mark.parametrize(
    "extra,needle",
    [
        ({"previous_response_id": "resp_123"}, "stateless"),
        ({"background": True}, "stateless"),
    ],
)
def test_responses_stateful_requests_are_refused(
    client: openai.OpenAI, model: str, extra: dict[str, Any], needle: str
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=model, input="hi", max_output_tokens=4, **extra)
    assert needle in info.value.message
    assert info.value.code == "unsupported_parameter"


def test_responses_schema_guard_applies_to_text_format(client: openai.OpenAI, model: str) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "multipleOf": 2}}}
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(
            model=model,
            input="hi",
            text={"format": {"type": "json_schema", "name": "N", "schema": schema}},
        )
    assert info.value.code == "schema_unsupported_keyword" and "multipleOf" in info.value.message


# --- forced function calls ---------------------------------------------------------------------


def _count_tool() -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": "Count", "parameters": Count.model_json_schema()},
    }


def test_named_tool_choice_is_answered_as_a_tool_call(client: openai.OpenAI, model: str) -> None:
    reply = client.chat.completions.create(
        model=model,
        max_tokens=60,
        seed=1,
        tools=[_count_tool()],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "Count"}},
        messages=[{"role": "user", "content": "Count the animals."}],
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "Count"
    assert Count.model_validate_json(call.function.arguments)


def test_forced_tool_call_streams_argument_deltas(client: openai.OpenAI, model: str) -> None:
    stream = client.chat.completions.create(
        model=model,
        max_tokens=60,
        seed=1,
        stream=True,
        stream_options={"include_usage": True},
        tools=[_count_tool()],  # type: ignore[list-item]
        tool_choice="required",
        messages=[{"role": "user", "content": "Count the animals."}],
    )
    chunks = list(stream)
    calls = [c.choices[0].delta.tool_calls for c in chunks if c.choices]
    header = next(tc for tc in calls if tc)[0]
    assert header.id and header.id.startswith("call_") and header.function is not None
    assert header.function.name == "Count"
    arguments = "".join(
        tc[0].function.arguments or "" for tc in calls if tc and tc[0].function is not None
    )
    assert Count.model_validate_json(arguments)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "tool_calls"
    assert all(not c.choices or c.choices[0].delta.content is None for c in chunks)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_instructor_default_mode(client: openai.OpenAI, model: str) -> None:
    patched = instructor.from_openai(client)
    assert patched.mode == instructor.Mode.TOOLS
    count = patched.chat.completions.create(
        model=model,
        response_model=Count,
        max_retries=0,
        max_tokens=60,
        seed=1,
        messages=[{"role": "user", "content": "Count the animals."}],
    )
    assert isinstance(count, Count)


def test_langchain_function_calling_structured_output(
    engine_gateway: GatewayServer, key: str, model: str
) -> None:
    with httpx.Client(timeout=120) as http:  # closed here: LangChain would leave it open
        llm = ChatOpenAI(
            model=model,
            base_url=engine_gateway.base_url + "/v1",
            api_key=key,  # type: ignore[arg-type]
            http_client=http,
            max_retries=0,
            max_tokens=60,  # type: ignore[call-arg]
            seed=1,
            temperature=0,
        )
        structured = llm.with_structured_output(Count, method="function_calling")
        count = structured.invoke("Count the animals.")
    assert isinstance(count, Count)


@pytest.mark.parametrize("choice", ["auto", "required", None])
def test_a_choice_among_tools_is_refused_with_how_to_force_one(
    client: openai.OpenAI, model: str, choice: str | None
) -> None:
    other = {"type": "function", "function": {"name": "Other", "parameters": {"type": "object"}}}
    extra: dict[str, Any] = {} if choice is None else {"tool_choice": choice}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=model,
            max_tokens=8,
            tools=[_count_tool(), other],  # type: ignore[list-item]
            messages=[{"role": "user", "content": "hi"}],
            **extra,
        )
    assert info.value.code == "tool_choice_unsupported"
    assert "cannot choose among tools" in info.value.message
    assert json.dumps({"name": "Count"})[1:-1] in info.value.message
