"""Relaying one vLLM event stream to the client, chunk by chunk, as ``upstream`` receives it.

Chunks go out as vLLM wrote them (``iter_any``, no re-framing). A stream is finished when it
ends as its ``StreamEnd`` says: chat with ``data: [DONE]``, the Responses API with its
terminal ``response.completed`` (or ``.incomplete``/``.failed``) event. If it breaks after the
200 went out, the client gets an in-band ``data: {"error": …}`` event and ``data: [DONE]``,
which the openai SDK raises as ``APIError``. When the client goes away, Starlette cancels the
relay and the upstream connection is closed, so vLLM aborts the request and frees its KV
blocks. Either way the replica's in-flight slot (a ``Lease``) is given back exactly once.

Token counts are found with a byte search in the chunk that carries the final ``usage``, so
ordinary chunks cost a single ``in`` test.

    return relay_response(response, lease, record, metrics, count_tokens)
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from ..errors import ErrorCode, error_body
from ..leases import Lease
from ..metrics import GatewayMetrics
from ..record import RequestRecord

__all__ = [
    "relay_response",
    "find_usage",
    "RELAY_ERRORS",
    "StreamEnd",
    "CHAT_END",
    "RESPONSES_END",
]

_PROMPT = re.compile(rb'"(?:prompt|input)_tokens":\s*(\d+)')
_COMPLETION = re.compile(rb'"(?:completion|output)_tokens":\s*(\d+)')


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """How to tell a finished stream from a cut one: ``final`` matches its last bytes, and
    ``event`` (if any) was seen on the way."""

    final: re.Pattern[bytes]
    event: re.Pattern[bytes] | None = None


CHAT_END = StreamEnd(re.compile(rb"data: \[DONE\]\s*$"))
RESPONSES_END = StreamEnd(
    re.compile(rb"\}\s*$"),
    re.compile(rb'"type":\s*"response\.(?:completed|incomplete|failed)"'),
)
"""A Responses stream sends no ``[DONE]``: it ends with its terminal event, whose data (the
whole response) can be longer than the tail the relay keeps, so the event is watched for."""
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
RELAY_ERRORS = (aiohttp.ClientError, TimeoutError)

Count = Callable[[RequestRecord, Any, Any], None]
"""``count(record, prompt_tokens, completion_tokens)``"""


def relay_response(
    response: aiohttp.ClientResponse,
    lease: Lease,
    record: RequestRecord,
    metrics: GatewayMetrics,
    count: Count,
    end: StreamEnd = CHAT_END,
) -> StreamingResponse:
    """A ``StreamingResponse`` over an upstream 200 event stream that finishes with ``end``;
    ``lease`` is the replica's in-flight slot."""

    async def close() -> None:  # after the stream, or after a client disconnect
        response.close()
        lease.release()  # in case the relay never started

    return StreamingResponse(
        _relay(response, lease, record, metrics, count, end),
        media_type="text/event-stream",
        headers=_SSE_HEADERS,
        background=BackgroundTask(close),
    )


async def _relay(
    response: aiohttp.ClientResponse,
    lease: Lease,
    record: RequestRecord,
    metrics: GatewayMetrics,
    count: Count,
    end: StreamEnd,
) -> AsyncIterator[bytes]:
    tail = b""
    first = True
    finished = False
    seen = end.event is None
    usage: tuple[int | None, int | None] | None = None
    try:
        async for chunk in response.content.iter_any():
            if first:
                first = False
                metrics.ttft.observe(time.perf_counter() - record.start)
            if b'"usage"' in chunk:
                usage = find_usage(tail + chunk) or usage
            if not seen and end.event is not None:
                seen = end.event.search(tail[-64:] + chunk) is not None
            # the tail spans chunks: a stream's last event can arrive in small pieces
            tail = chunk[-512:] if len(chunk) >= 512 else (tail + chunk)[-512:]
            yield chunk
        if not (seen and end.final.search(tail)):
            raise aiohttp.ClientPayloadError("stream ended before its final event")
        finished = True
    except RELAY_ERRORS as exc:
        timeout = isinstance(exc, TimeoutError)
        code = ErrorCode.UPSTREAM_TIMEOUT if timeout else ErrorCode.UPSTREAM_MIDSTREAM
        metrics.upstream_errors.labels(kind=code.removeprefix("upstream_")).inc()
        record.error_code = code  # after the 200: in-band, so no error handler sees it
        body = error_body(
            f"upstream model server failed mid-stream ({type(exc).__name__})",
            "upstream_error",
            None,
            code,
        )
        gap = b"" if not tail or tail.endswith(b"\n\n") else b"\n\n"
        yield gap + b"data: " + json.dumps(body).encode() + b"\n\ndata: [DONE]\n\n"
    finally:
        # A finished stream gives its connection back to the pool; anything else (client
        # gone, upstream broken) closes it, which is what makes vLLM abort the request.
        if finished:
            response.release()
        else:
            response.close()
        lease.release()
        if usage is not None:
            count(record, *usage)


def find_usage(window: bytes) -> tuple[int | None, int | None] | None:
    """(prompt, completion) tokens from the last ``"usage":{…}`` in ``window``, if any
    (Responses name them ``input_tokens`` and ``output_tokens``)."""
    at = max(window.rfind(b'"usage":{'), window.rfind(b'"usage": {'))
    if at < 0:
        return None
    prompt = _PROMPT.search(window, at)
    completion = _COMPLETION.search(window, at)
    return (
        int(prompt.group(1)) if prompt else None,
        int(completion.group(1)) if completion else None,
    )
