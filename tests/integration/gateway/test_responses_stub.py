"""Responses API faults the real engine cannot produce on demand, against the stub upstream:
a stream's end is its ``response.completed`` event (there is no ``[DONE]``), and a stream that
breaks before it reaches the SDK as an error, not as a silently short answer."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.support.gateway_server import GatewayServer


@pytest.fixture(scope="module")
def key(stub_gateway: GatewayServer) -> str:
    return stub_gateway.create_key("responses-stub")


@pytest.fixture
def client(stub_gateway: GatewayServer, key: str) -> Iterator[openai.OpenAI]:
    c = openai.OpenAI(base_url=stub_gateway.base_url + "/v1", api_key=key, max_retries=0)
    yield c
    c.close()


def test_plain_and_streamed_responses_pass_through(client: openai.OpenAI) -> None:
    response = client.responses.create(model="stub", input="hi")
    assert response.output_text == "Hello from the stub."
    events = list(client.responses.create(model="stub", input="hi", stream=True))
    assert [e.type for e in events][-1] == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "Hello from the stub."


def test_a_stream_broken_before_its_final_event_raises(client: openai.OpenAI) -> None:
    stream = client.responses.create(model="stub-die", input="hi", stream=True)
    with pytest.raises(openai.APIError) as info:
        list(stream)
    assert "mid-stream" in info.value.message
