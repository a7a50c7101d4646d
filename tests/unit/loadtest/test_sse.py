"""TTFT, ITL and usage from a canned SSE sequence, and the ways a stream can fail."""

from __future__ import annotations

import json

import pytest

from loadtest.sse import StreamTimer


def chunk(
    content: str | None = None,
    role: str | None = None,
    finish: str | None = None,
    usage: dict[str, int] | None = None,
) -> str:
    delta: dict[str, str] = {}
    if role:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    event: dict[str, object] = {
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else []
    }
    if usage is not None:
        event["usage"] = usage
    return "data: " + json.dumps(event)


CANNED = [
    (0.10, chunk(role="assistant", content="")),  # role only: not the first token
    (0.12, ": keep-alive"),
    (0.30, chunk("Hel")),  # first content → TTFT 0.30 - 0.05
    (0.31, ""),
    (0.35, chunk("lo")),
    (0.45, chunk(" world")),
    (0.46, chunk("", finish="stop")),  # empty content: no ITL gap
    (
        0.47,
        chunk(
            usage={
                "prompt_tokens": 790,
                "completion_tokens": 7,
                "prompt_tokens_details": {"cached_tokens": 768},
            }
        ),
    ),
    (0.48, "data: [DONE]"),
]


def run(events: list[tuple[float, str]], start: float = 0.05, as_bytes: bool = False):
    timer = StreamTimer(start)
    for t, line in events:
        timer.feed((line + "\r\n").encode() if as_bytes else line, t)
    return timer.result()


@pytest.mark.parametrize("as_bytes", [False, True])
def test_ttft_itl_and_usage_from_canned_events(as_bytes: bool) -> None:
    r = run(CANNED, as_bytes=as_bytes)
    assert r.error_type is None and r.done
    assert r.ttft_s == pytest.approx(0.25)
    assert r.itl_s == pytest.approx([0.05, 0.10])
    assert r.content_events == 3
    assert r.completion_tokens == 7  # from usage, not from counting events
    assert r.prompt_tokens == 790 and r.cached_tokens == 768
    assert r.finish_reason == "stop"
    assert r.e2e_s == pytest.approx(0.43)


def test_explicit_end_time_closes_e2e() -> None:
    timer = StreamTimer(0.0)
    for t, line in CANNED:
        timer.feed(line, t)
    assert timer.result(end=1.0).e2e_s == pytest.approx(1.0)


def test_error_event_mid_stream_is_a_failure() -> None:
    events = CANNED[:4] + [
        (
            0.5,
            'data: {"error": {"message": "engine died", '
            '"type": "server_error", "code": "upstream_error"}}',
        ),
        (0.6, "data: [DONE]"),
    ]
    r = run(events)
    assert r.error_type == "stream_error/upstream_error"
    assert r.error_message == "engine died"
    assert r.ttft_s is not None  # what was measured before the error is kept


def test_stream_without_done_is_truncated() -> None:
    assert run(CANNED[:-1]).error_type == "stream_truncated"


def test_stream_without_content_is_a_failure() -> None:
    r = run([(0.1, chunk(role="assistant", content="")), (0.2, "data: [DONE]")])
    assert r.error_type == "no_content" and r.ttft_s is None


def test_garbage_event_is_a_failure() -> None:
    assert run([(0.1, "data: {not json"), (0.2, "data: [DONE]")]).error_type == "bad_sse"


def test_lines_after_done_are_ignored() -> None:
    r = run(CANNED + [(0.9, chunk("late"))])
    assert r.content_events == 3 and r.e2e_s == pytest.approx(0.43)
