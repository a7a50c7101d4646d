"""The real gateway in front of the real vLLM CPU engine (tiny Phi3V), driven by the openai SDK.

The model has random weights, so answers are checked for shape, token counts and protocol, not
for meaning. Image requests prove the image reached the model through ``prompt_tokens``
(a 640x480 image at num_crops=4 is 757 image tokens).
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import httpx
import openai
import pytest
from pydantic import BaseModel

from tests.support.gateway_server import GatewayServer
from tests.support.images import image_bytes, make_image

pytestmark = pytest.mark.engine

IMAGE_TOKENS_AT_4_CROPS = 757


def _model(vllm_engine: Any) -> str:
    return str(vllm_engine.model)


def _image_message(url: str, text: str = "Describe the picture.") -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


def _png_data_url() -> str:
    data = image_bytes(make_image(640, 480, seed=3), "PNG")
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _vllm_metric(vllm_engine: Any, name: str, **labels: str) -> float:
    text = httpx.get(vllm_engine.base_url + "/metrics").text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_models_lists_the_served_model(client: openai.OpenAI, vllm_engine: Any) -> None:
    assert _model(vllm_engine) in [m.id for m in client.models.list()]


def test_text_chat(client: openai.OpenAI, vllm_engine: Any) -> None:
    reply = client.chat.completions.create(
        model=_model(vllm_engine),
        max_tokens=8,
        temperature=0.0,
        seed=1,
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Say hello."},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Again."},
        ],
    )
    assert reply.object == "chat.completion" and len(reply.choices) == 1
    assert reply.usage is not None and 0 < reply.usage.completion_tokens <= 8
    assert isinstance(reply.choices[0].message.content, str)


def test_sampling_parameters_pass_through(client: openai.OpenAI, vllm_engine: Any) -> None:
    reply = client.chat.completions.create(
        model=_model(vllm_engine),
        n=2,
        max_completion_tokens=5,
        temperature=0.7,
        top_p=0.9,
        seed=7,
        stop=["\n\n"],
        messages=[{"role": "user", "content": "Count."}],
    )
    assert len(reply.choices) == 2
    assert reply.usage is not None and reply.usage.completion_tokens <= 10


def test_image_as_data_url(client: openai.OpenAI, vllm_engine: Any) -> None:
    reply = client.chat.completions.create(
        model=_model(vllm_engine), max_tokens=5, messages=_image_message(_png_data_url())
    )
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > IMAGE_TOKENS_AT_4_CROPS


def test_num_crops_per_request_reaches_the_engine(client: openai.OpenAI, vllm_engine: Any) -> None:
    four = client.chat.completions.create(
        model=_model(vllm_engine),
        max_tokens=2,
        messages=_image_message(_png_data_url()),
        extra_body={"mm_processor_kwargs": {"num_crops": 4}},
    )
    one = client.chat.completions.create(
        model=_model(vllm_engine),
        max_tokens=2,
        messages=_image_message(_png_data_url()),
        extra_body={"mm_processor_kwargs": {"num_crops": 1}},
    )
    assert one.usage is not None and four.usage is not None
    assert one.usage.prompt_tokens < four.usage.prompt_tokens


def test_image_fetched_by_the_gateway(
    client: openai.OpenAI, vllm_engine: Any, image_server: str
) -> None:
    by_url = client.chat.completions.create(
        model=_model(vllm_engine), max_tokens=3, messages=_image_message(image_server + "/cat.png")
    )
    by_data = client.chat.completions.create(
        model=_model(vllm_engine), max_tokens=3, messages=_image_message(_png_data_url())
    )
    assert by_url.usage is not None and by_data.usage is not None
    assert by_url.usage.prompt_tokens == by_data.usage.prompt_tokens
    redirected = client.chat.completions.create(
        model=_model(vllm_engine), max_tokens=3, messages=_image_message(image_server + "/to-cat")
    )
    assert redirected.usage is not None
    assert redirected.usage.prompt_tokens == by_data.usage.prompt_tokens


@pytest.mark.parametrize(
    "path,needle",
    [
        ("/to-metadata", "refused"),
        ("/to-private", "allowlist"),
        ("/not-image", "not an image"),
        ("/missing.png", "404"),
    ],
)
def test_fetch_refusals_with_the_test_allowlist(
    client: openai.OpenAI, vllm_engine: Any, image_server: str, path: str, needle: str
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=_model(vllm_engine), max_tokens=3, messages=_image_message(image_server + path)
        )
    body = info.value.body
    assert isinstance(body, dict)
    assert needle in str(body.get("message")) and body["param"] == (
        "messages[0].content[1].image_url"
    )


def test_streaming_with_usage(client: openai.OpenAI, vllm_engine: Any) -> None:
    chunks = list(
        client.chat.completions.create(
            model=_model(vllm_engine),
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
            messages=_image_message(_png_data_url(), "Name three colours."),
        )
    )
    assert len(chunks) > 2
    final = chunks[-1]
    assert final.usage is not None and final.choices == []
    assert final.usage.prompt_tokens > IMAGE_TOKENS_AT_4_CROPS
    assert 0 < final.usage.completion_tokens <= 12
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)


class Scene(BaseModel):
    label: Literal["indoor", "outdoor"]
    has_people: bool


def test_response_format_json_schema(client: openai.OpenAI, vllm_engine: Any) -> None:
    parsed = client.chat.completions.parse(
        model=_model(vllm_engine),
        max_tokens=60,
        response_format=Scene,
        messages=_image_message(_png_data_url(), "Classify the scene."),
    )
    scene = parsed.choices[0].message.parsed
    assert isinstance(scene, Scene)
    json_object = client.chat.completions.create(
        model=_model(vllm_engine),
        max_tokens=40,
        response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "Reply in JSON."}],
    )
    assert json_object.choices[0].message.content is not None


def test_first_chunk_arrives_while_the_engine_is_still_generating(
    engine_gateway: GatewayServer, key: str, vllm_engine: Any
) -> None:
    body = {
        "model": _model(vllm_engine),
        "max_tokens": 400,
        "ignore_eos": True,
        "stream": True,
        "messages": [{"role": "user", "content": "Write a long story."}],
    }
    # A buffering gateway fails every attempt. vLLM's own API server can still be starved of
    # CPU on a loaded 2-core machine and flush a whole answer at once, so one unlucky attempt
    # is not proof against the gateway.
    attempts: list[tuple[float, int]] = []
    for _ in range(3):
        after_first, content_chunks = _tokens_generated_after_first_chunk(
            engine_gateway, key, vllm_engine, body
        )
        attempts.append((after_first, content_chunks))
        if after_first >= 200 and content_chunks >= 10:
            break
    # Most of the 400 tokens were generated after the first one had reached us through the
    # gateway, in many events: it did not wait for (or buffer) the whole answer.
    assert any(after >= 200 and chunks >= 10 for after, chunks in attempts), attempts


@contextmanager
def _stream_chat(gateway: GatewayServer, key: str, body: dict[str, Any]) -> Iterator[Iterator[str]]:
    """The lines of a streamed chat answer through the gateway; leaving the block hangs up."""
    with httpx.Client(timeout=120) as http:
        with http.stream(
            "POST",
            gateway.base_url + "/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {key}"},
        ) as response:
            assert response.status_code == 200
            yield response.iter_lines()


def _tokens_generated_after_first_chunk(
    gateway: GatewayServer, key: str, vllm_engine: Any, body: dict[str, Any]
) -> tuple[float, int]:
    """(tokens vLLM generated after our first content chunk arrived, content chunks seen)."""
    before = _vllm_metric(vllm_engine, "vllm:generation_tokens_total")
    content_chunks = 0
    at_first_chunk = None
    with _stream_chat(gateway, key, body) as lines:
        for line in lines:
            if not re.match(r'data: \{.*"content":"[^"]', line):
                continue
            content_chunks += 1
            if at_first_chunk is None:
                at_first_chunk = _vllm_metric(vllm_engine, "vllm:generation_tokens_total")
    assert at_first_chunk is not None, "no content chunk arrived"
    # The counter can lag the last step: wait until it shows the whole answer.
    deadline = time.monotonic() + 10
    at_end = _vllm_metric(vllm_engine, "vllm:generation_tokens_total")
    while at_end < before + body["max_tokens"] and time.monotonic() < deadline:
        time.sleep(0.05)
        at_end = _vllm_metric(vllm_engine, "vllm:generation_tokens_total")
    return at_end - at_first_chunk, content_chunks


def test_client_disconnect_aborts_the_engine_request(
    engine_gateway: GatewayServer, key: str, vllm_engine: Any
) -> None:
    tokens_before = _vllm_metric(vllm_engine, "vllm:generation_tokens_total")
    body = {
        "model": _model(vllm_engine),
        "max_tokens": 3000,
        "ignore_eos": True,
        "stream": True,
        "messages": [{"role": "user", "content": "Go on forever."}],
    }
    with _stream_chat(engine_gateway, key, body) as lines:
        for _ in range(3):
            next(lines)
        # The engine is generating (its gauge can lag a step behind: poll, don't sample).
        started = time.monotonic()
        while _vllm_metric(vllm_engine, "vllm:num_requests_running") < 1:
            if time.monotonic() - started > 20:
                pytest.fail("vLLM never reported the streaming request as running")
            time.sleep(0.05)
    deadline = time.monotonic() + 30
    while _vllm_metric(vllm_engine, "vllm:num_requests_running") > 0:
        if time.monotonic() > deadline:
            pytest.fail("vLLM kept generating after the client went away")
        time.sleep(0.1)
    # It stopped because it was aborted, not because it finished its 3000 tokens.
    generated = _vllm_metric(vllm_engine, "vllm:generation_tokens_total") - tokens_before
    assert generated < 3000
