"""The request functions against a stand-in for Locust's FastHttpSession (no gevent)."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest

from loadtest.config import RunConfig
from loadtest.context import Start, make_context
from loadtest.scenarios import run_chat, run_extract, run_repeat, run_stream


class FakeRaw:
    def __init__(self, lines: list[bytes]) -> None:
        self.lines = list(lines)

    def readline(self, sep: bytes) -> bytes:
        return self.lines.pop(0) if self.lines else b""


class FakeResp:
    """What ``client.post(..., catch_response=True)`` returns, reduced to what we use."""

    def __init__(
        self,
        status: int,
        body: object = None,
        lines: list[bytes] = (),
        error: Exception | None = None,
    ) -> None:
        self.status_code = status
        self.content = json.dumps(body).encode() if body is not None else b""
        self.text = self.content.decode()
        self._response = FakeRaw(list(lines))
        self.error = error
        self.request_meta: dict[str, Any] = {}
        self.result: object = None

    def __enter__(self) -> FakeResp:
        return self

    def __exit__(self, *exc: object) -> bool:
        return False

    def success(self) -> None:
        self.result = True

    def failure(self, message: str) -> None:
        self.result = message


class FakeClient:
    def __init__(self, *responses: FakeResp) -> None:
        self.responses = list(responses)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def post(self, path: str, **kw: Any) -> FakeResp:
        self.calls.append((path, kw))
        return self.responses.pop(0)


def sse(*contents: str, tokens: int = 3) -> list[bytes]:
    lines = [b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n', b"\n"]
    for c in contents:
        lines += [f'data: {{"choices":[{{"delta":{{"content":"{c}"}}}}]}}\n'.encode(), b"\n"]
    lines.append(
        f'data: {{"choices":[],"usage":{{"prompt_tokens":780,'
        f'"completion_tokens":{tokens}}}}}\n'.encode()
    )
    return lines + [b"\n", b"data: [DONE]\n", b"\n"]


@pytest.fixture
def ctx_and_events() -> tuple[Any, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    cfg = RunConfig(corpus_size=3, image_scale=0.2, schemas=["scene"])
    return make_context(cfg, "sk-test", lambda **kw: events.append(kw)), events


def test_stream_success_records_ttft_itl_and_tokens(ctx_and_events: Any) -> None:
    ctx, events = ctx_and_events
    resp = FakeResp(200, lines=sse("a", "b", "c", tokens=5))
    client = FakeClient(resp)
    assert run_stream(client, ctx, random.Random(0)) is True  # type: ignore[arg-type]
    path, kw = client.calls[0]
    assert path == "/v1/chat/completions" and kw["stream"] and kw["catch_response"]
    assert kw["headers"]["Authorization"] == "Bearer sk-test"
    assert kw["headers"]["Accept-Encoding"] == "identity"
    (sample,) = ctx.recorder.samples
    assert sample.ok and sample.name == "chat-stream" and sample.completion_tokens == 5
    assert sample.ttft_s is not None and len(sample.itl_s) == 2
    assert resp.result is True and resp.request_meta["response_time"] >= 0
    kinds = [e["request_type"] for e in events]
    assert kinds == ["TTFT", "ITL", "ITL", "TOK/S"]


def test_http_error_is_a_typed_failure_without_ttft(ctx_and_events: Any) -> None:
    ctx, events = ctx_and_events
    body = {"error": {"message": "slow down", "type": "rate_limit", "code": "rate_limited"}}
    resp = FakeResp(429, body)
    assert run_stream(FakeClient(resp), ctx, random.Random(0)) is False  # type: ignore[arg-type]
    (sample,) = ctx.recorder.samples
    assert sample.error == "http_429/rate_limited" and sample.message == "slow down"
    assert isinstance(resp.result, str) and resp.result.startswith("http_429/rate_limited")
    assert events == []


def test_connection_failure(ctx_and_events: Any) -> None:
    ctx, _ = ctx_and_events
    resp = FakeResp(0, error=ConnectionRefusedError("refused"))
    assert run_chat(FakeClient(resp), ctx, random.Random(0)) is False  # type: ignore[arg-type]
    assert ctx.recorder.samples[0].error == "connection/ConnectionRefusedError"


def test_extract_needs_data_in_the_answer(ctx_and_events: Any) -> None:
    ctx, _ = ctx_and_events
    good = FakeResp(
        200,
        {
            "id": "x",
            "schema": "scene",
            "data": {"label": "indoor"},
            "usage": {"prompt_tokens": 800, "completion_tokens": 12},
        },
    )
    bad = FakeResp(200, {"id": "x"})
    client = FakeClient(good, bad)
    assert run_extract(client, ctx, random.Random(0)) is True  # type: ignore[arg-type]
    assert run_extract(client, ctx, random.Random(0)) is False  # type: ignore[arg-type]
    assert client.calls[0][0] == "/v1/extract/scene"
    first, second = ctx.recorder.samples
    assert first.name == "extract/scene" and first.completion_tokens == 12
    assert second.error == "bad_response"


def test_open_loop_latency_counts_from_the_intended_start(ctx_and_events: Any) -> None:
    ctx, events = ctx_and_events
    resp = FakeResp(200, {"choices": [{"message": {"content": "hi"}}], "usage": {}})
    late = Start(time.time() - 1.0, time.perf_counter() - 1.0, lag_s=1.0)
    run_chat(FakeClient(resp), ctx, random.Random(0), late)  # type: ignore[arg-type]
    assert resp.request_meta["response_time"] >= 1000
    assert resp.request_meta["start_time"] == late.wall
    assert ctx.recorder.samples[0].lag_s == 1.0
    assert events[0]["request_type"] == "LAG"


def test_repeat_sends_several_prompts_on_one_image(ctx_and_events: Any) -> None:
    ctx, _ = ctx_and_events
    ctx.cfg.repeat_prompts = 3
    client = FakeClient(*(FakeResp(200, lines=sse("x", "y")) for _ in range(3)))
    assert run_repeat(client, ctx, random.Random(0)) is True  # type: ignore[arg-type]
    names = [s.name for s in ctx.recorder.samples]
    assert names == ["repeat/first", "repeat/again", "repeat/again"]
    images = {
        json.loads(kw["data"])["messages"][0]["content"][0]["image_url"]["url"]
        for _, kw in client.calls
    }
    questions = {
        json.loads(kw["data"])["messages"][0]["content"][1]["text"] for _, kw in client.calls
    }
    assert len(images) == 1 and len(questions) == 3
