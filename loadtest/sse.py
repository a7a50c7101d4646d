"""Server-sent events of a streamed chat completion → TTFT, inter-token latencies, usage.

Kept free of Locust and sockets so that the timing rules can be tested on a canned event
sequence. The rules are the ones serving benchmarks use:

* **TTFT** is the time from the (intended) send to the first event whose
  ``choices[].delta.content`` is non-empty. Role-only and empty events do not count: the user
  sees nothing yet.
* **ITL** is each gap between two consecutive content events (one per gap, not one average
  per request, so that the p99 shows stalls).
* **Output tokens** come from the final ``usage`` chunk (``stream_options.include_usage``),
  not from counting events: one event can carry several tokens.
* ``data: {"error": {...}}`` after the 200 is a failure, as is a stream that ends without
  ``data: [DONE]``.

    timer = StreamTimer(start=t0)
    for line in lines:                     # bytes or str, one SSE line each
        timer.feed(line, time.perf_counter())
    result = timer.result()                # StreamResult(ttft_s=..., itl_s=[...], ...)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["StreamResult", "StreamTimer"]


@dataclass
class StreamResult:
    """What one streamed response measured; ``error`` is None when it succeeded."""

    ttft_s: float | None = None
    itl_s: list[float] = field(default_factory=list)
    e2e_s: float | None = None
    content_events: int = 0
    content_chars: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    finish_reason: str | None = None
    done: bool = False
    error_type: str | None = None
    error_message: str | None = None


class StreamTimer:
    """Feed it SSE lines with the time each arrived; it keeps the timings."""

    def __init__(self, start: float) -> None:
        self._start = start
        self._last_content: float | None = None
        self._last_event: float | None = None
        self._r = StreamResult()

    @property
    def done(self) -> bool:
        """True after ``[DONE]`` or an in-band error: later lines are ignored."""
        return self._r.done or self._r.error_type is not None

    def feed(self, line: bytes | str, now: float) -> None:
        """One line of the stream (with or without its newline)."""
        if self.done:
            return
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        text = text.strip()
        if not text.startswith("data:"):
            return  # blank separators, ": keep-alive" comments, event:/id: fields
        data = text[5:].strip()
        self._last_event = now
        if data == "[DONE]":
            self._r.done = True
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError:
            self._fail("bad_sse", f"event is not JSON: {data[:80]!r}")
            return
        if not isinstance(event, dict):
            self._fail("bad_sse", f"event is not an object: {data[:80]!r}")
            return
        if isinstance(event.get("error"), dict):
            err = event["error"]
            code = err.get("code") or err.get("type") or "error"
            self._fail(f"stream_error/{code}", str(err.get("message", ""))[:200])
            return
        self._take_choices(event.get("choices"), now)
        usage = event.get("usage")
        if isinstance(usage, dict):
            self._take_usage(usage)

    def _take_choices(self, choices: Any, now: float) -> None:
        if not isinstance(choices, list):
            return
        content = ""
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or {}
            if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                content += delta["content"]
            if choice.get("finish_reason"):
                self._r.finish_reason = str(choice["finish_reason"])
        if not content:
            return
        if self._last_content is None:
            self._r.ttft_s = now - self._start
        else:
            self._r.itl_s.append(now - self._last_content)
        self._last_content = now
        self._r.content_events += 1
        self._r.content_chars += len(content)

    def _take_usage(self, usage: dict[str, Any]) -> None:
        for key in ("prompt_tokens", "completion_tokens"):
            if isinstance(usage.get(key), int):
                setattr(self._r, key, usage[key])
        details = usage.get("prompt_tokens_details")
        if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
            self._r.cached_tokens = details["cached_tokens"]

    def _fail(self, kind: str, message: str) -> None:
        self._r.error_type, self._r.error_message = kind, message

    def fail(self, kind: str, message: str) -> None:
        """Record a transport failure (timeout, reset) seen by the caller."""
        if self._r.error_type is None:
            self._fail(kind, message)

    def result(self, end: float | None = None) -> StreamResult:
        """The measurements; ``end`` (default: the last event) closes the e2e time.

        A stream that stopped without ``[DONE]`` or had no content event is an error: a
        "successful" request with no TTFT would silently drop out of the latency figures.
        """
        r = self._r
        last = end if end is not None else self._last_event
        r.e2e_s = None if last is None else last - self._start
        if r.error_type is None and not r.done:
            r.error_type, r.error_message = "stream_truncated", "stream ended without [DONE]"
        elif r.error_type is None and r.content_events == 0:
            r.error_type, r.error_message = "no_content", "stream had no content event"
        return r
