"""Forced function calls become guided decoding, and answers come back as tool calls."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.chat.tools import ForcedTool, force_tool_call
from gateway.errors import GatewayError
from gateway.settings import Settings

S = Settings(max_schema_depth=4)
COUNT = {
    "type": "object",
    "properties": {"n": {"type": "integer"}},
    "required": ["n"],
}


def _tool(name: str, parameters: Any = COUNT) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


def _named(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


def _body(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    body.update(kw)
    return body


def _refusal(body: dict[str, Any]) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        force_tool_call(body, S)
    return info.value


def test_no_tools_leaves_the_body_alone() -> None:
    body = _body(tool_choice="auto")
    assert force_tool_call(body, S) is None
    assert body == _body(tool_choice="auto")


def test_named_choice_becomes_guided_decoding_of_its_parameters() -> None:
    body = _body(
        tools=[_tool("Other", {"type": "object"}), _tool("Count")],
        tool_choice=_named("Count"),
        parallel_tool_calls=False,
    )
    forced = force_tool_call(body, S)
    assert forced is not None and forced.name == "Count"
    assert "tools" not in body and "tool_choice" not in body and "parallel_tool_calls" not in body
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Count", "schema": COUNT, "strict": True},
    }


def test_required_with_one_tool_forces_it() -> None:
    body = _body(tools=[_tool("Count")], tool_choice="required")
    forced = force_tool_call(body, S)
    assert forced is not None and forced.name == "Count"


def test_a_tool_without_parameters_takes_an_empty_object() -> None:
    body = _body(tools=[{"type": "function", "function": {"name": "ping"}}], tool_choice="required")
    force_tool_call(body, S)
    assert body["response_format"]["json_schema"]["schema"] == {"type": "object", "properties": {}}


def test_none_drops_the_tools() -> None:
    body = _body(tools=[_tool("Count")], tool_choice="none", parallel_tool_calls=True)
    assert force_tool_call(body, S) is None
    assert body == _body()


@pytest.mark.parametrize(
    "body,needle",
    [
        (_body(tools=[_tool("Count")]), "without a tool_choice"),
        (_body(tools=[_tool("Count")], tool_choice="auto"), '"auto"'),
        (_body(tools=[_tool("A"), _tool("B")], tool_choice="required"), '"required" with 2'),
    ],
)
def test_a_choice_among_tools_is_refused_with_how_to_force_one(
    body: dict[str, Any], needle: str
) -> None:
    error = _refusal(body)
    assert error.status == 400 and error.code == "tool_choice_unsupported"
    assert error.param == "tool_choice"
    assert needle in error.message and "cannot choose among tools" in error.message
    assert '"function": {"name": "' in error.message


@pytest.mark.parametrize(
    "body,param",
    [
        (_body(tools=[_tool("A")], tool_choice=_named("B")), "tool_choice.function.name"),
        (_body(tools=[_tool("A")], tool_choice={"type": "function"}), "tool_choice.function.name"),
        (_body(tools=[_tool("A")], tool_choice="always"), "tool_choice"),
        (_body(tools=[{"type": "custom", "custom": {}}], tool_choice="required"), "tools[0].type"),
        (_body(tools=[{"type": "function"}], tool_choice="required"), "tools[0].function"),
        (_body(tools=[_tool("A", [1])], tool_choice="required"), "tools[0].function.parameters"),
        (_body(tools="A", tool_choice="required"), "tools"),
        (
            _body(
                tools=[_tool("A")],
                tool_choice="required",
                response_format={"type": "json_object"},
            ),
            "response_format",
        ),
        (
            _body(tools=[_tool("A")], tool_choice="required", structured_outputs={"json": {}}),
            "structured_outputs",
        ),
    ],
)
def test_bad_tool_fields_are_400_naming_the_field(body: dict[str, Any], param: str) -> None:
    error = _refusal(body)
    assert error.status == 400 and error.param == param


def test_the_parameters_schema_goes_through_the_schema_guard() -> None:
    deep: dict[str, Any] = {"type": "object"}
    for _ in range(6):
        deep = {"type": "object", "properties": {"x": deep}}
    error = _refusal(_body(tools=[_tool("A"), _tool("Deep", deep)], tool_choice=_named("Deep")))
    assert error.code == "schema_too_deep" and error.param == "tools[1].function.parameters"
    error = _refusal(
        _body(tools=[_tool("A", {"type": "integer", "multipleOf": 3})], tool_choice="required")
    )
    assert error.code == "schema_unsupported_keyword"


def _completion(content: str | None, finish: str, n: int = 1) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": content, "tool_calls": []},
                "finish_reason": finish,
            }
            for i in range(n)
        ],
    }


def test_answer_puts_the_json_in_a_tool_call() -> None:
    answer = ForcedTool("Count").answer(_completion('{"n":3}', "stop", n=2))
    ids = set()
    for choice in answer["choices"]:
        message = choice["message"]
        assert message["content"] is None and choice["finish_reason"] == "tool_calls"
        (call,) = message["tool_calls"]
        assert call["type"] == "function" and call["id"].startswith("call_")
        assert call["function"] == {"name": "Count", "arguments": '{"n":3}'}
        ids.add(call["id"])
    assert len(ids) == 2


def test_a_cut_off_answer_keeps_finish_reason_length() -> None:
    answer = ForcedTool("Count").answer(_completion('{"n":', "length"))
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["tool_calls"][0]["function"]["arguments"] == '{"n":'


def _event(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> bytes:
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


async def _collect(tool: ForcedTool, pieces: list[bytes]) -> list[Any]:
    async def source() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    out = b"".join([chunk async for chunk in tool.rewrite_stream(source())])
    events = [e for e in out.split(b"\n\n") if e]
    return [e.decode() if e == b"data: [DONE]" else json.loads(e[6:]) for e in events]


@pytest.mark.anyio
async def test_stream_becomes_argument_deltas_whatever_the_chunk_boundaries() -> None:
    usage = b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":3}}\n\n'
    stream = (
        _event({"role": "assistant", "content": ""})
        + _event({"content": '{"n"'})
        + _event({"content": ":3}"})
        + _event({}, "stop")
        + usage
        + b"data: [DONE]\n\n"
    )
    pieces = [stream[i : i + 7] for i in range(0, len(stream), 7)]  # boundaries mid-event
    events = await _collect(ForcedTool("Count"), pieces)
    first, second, third, last, tail, done = events
    header = first["choices"][0]["delta"]
    assert header["role"] == "assistant" and header["content"] is None
    (call,) = header["tool_calls"]
    assert call["id"].startswith("call_") and call["type"] == "function"
    assert call["function"] == {"name": "Count", "arguments": ""} and call["index"] == 0
    deltas = [e["choices"][0]["delta"]["tool_calls"][0] for e in (second, third)]
    assert "".join(d["function"]["arguments"] for d in deltas) == '{"n":3}'
    assert all("id" not in d and d["index"] == 0 for d in deltas)
    assert "content" not in second["choices"][0]["delta"]
    assert last["choices"][0]["finish_reason"] == "tool_calls"
    assert last["choices"][0]["delta"] == {}
    assert tail["usage"] == {"prompt_tokens": 3} and done == "data: [DONE]"


@pytest.mark.anyio
async def test_stream_error_events_pass_through() -> None:
    error = b'data: {"error":{"message":"broke","type":"upstream_error"}}\n\n'
    events = await _collect(ForcedTool("Count"), [error + b"data: [DONE]\n\n"])
    assert events == [{"error": {"message": "broke", "type": "upstream_error"}}, "data: [DONE]"]
