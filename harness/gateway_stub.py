"""A tiny, fast stand-in for the vLLM OpenAI server: fixed answers and chosen faults.

Used by the gateway fault tests and by ``bench.gateway_overhead``; run it as a process:

    python -m harness.gateway_stub --port 9000 [--name a]

It speaks just enough HTTP/1.1 (keep-alive, Content-Length request bodies) on raw asyncio
streams, so that it costs as little as possible per request. The behaviour of a chat request
is chosen by its ``model`` field:

    stub            fixed chat.completion JSON, or a fixed SSE stream when "stream": true
    stub-slow       waits 30 s before answering (timeouts)
    stub-die        stream: sends two chunks, then drops the connection
    stub-nonjson    200 with a non-JSON body
    stub-error      400 with an OpenAI error body
    stub-drip       stream: one chunk every 0.1 s for 60 s; records a client disconnect
    stub-500        500 with a plain-text body
    stub-hold       waits (up to 30 s) until ``GET /stub/release``, then answers as ``stub``
    stub-crash      stream: sends two chunks, then the whole stub process exits
    stub-script     answers with the next content of a script set by ``POST /stub/script``
                    (a JSON list of strings), with one logprob per character when asked

``--service-ms N`` makes every chat answer wait N ms first (no CPU), like an engine that needs
that long, so that ``bench/gateway_overhead.py`` can compare at a realistic upstream latency.

``GET /stub/seen`` lists what each ``stub-script`` request asked for: its ``num_crops``, its
last text part, its ``logprobs`` flag (the repair-pass tests read it) and its ``priority``.
``POST /v1/responses`` answers a fixed Responses API object, or with "stream": true its
``response.*`` events ending with ``response.completed``; ``stub-die`` breaks that stream after
two events.

``GET /stub/events`` returns counters ({"requests", "disconnects", "drip_done", "held"}) as
JSON. With ``--name N`` every answer's ``id`` is ``chatcmpl-N`` (default ``chatcmpl-stub``), so
routing tests can see which of several stubs answered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re

__all__ = ["CHAT_JSON", "RESPONSE_JSON", "sse_body", "responses_stream", "serve"]

CHAT_JSON = json.dumps(
    {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 1,
        "model": "stub",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello from the stub."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18},
    },
    separators=(",", ":"),
).encode()

_MODEL = re.compile(rb'"model"\s*:\s*"([^"]*)"')
_EVENTS = {"requests": 0, "disconnects": 0, "drip_done": 0, "held": 0}
_RELEASE: list[asyncio.Event] = []
_SERVICE_S = 0.0
_SCRIPT: list[str] = []
_SEEN: list[dict[str, object]] = []
SCRIPT_LOGPROB = -0.05
"""Every scripted character's logprob: a confidence of exp(-0.05) = 0.951229 per field."""


def _event(delta: dict[str, object], finish: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "stub",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def sse_body(words: int = 8) -> list[bytes]:
    """The fixed stream: role, ``words`` content deltas, finish, usage, [DONE]."""
    events = [_event({"role": "assistant", "content": ""})]
    events += [_event({"content": f"w{i} "}) for i in range(words)]
    events.append(_event({}, "stop"))
    usage = {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "stub",
        "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": words, "total_tokens": 12 + words},
    }
    events.append(b"data: " + json.dumps(usage, separators=(",", ":")).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


_STREAM = sse_body()
_CHAT = CHAT_JSON

_RESPONSE = {
    "id": "resp_stub",
    "object": "response",
    "created_at": 1,
    "model": "stub",
    "status": "completed",
    "output": [
        {
            "id": "msg_stub",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Hello from the stub.", "annotations": []}],
        }
    ],
    "parallel_tool_calls": True,
    "tool_choice": "none",
    "tools": [],
    "usage": {"input_tokens": 12, "output_tokens": 6, "total_tokens": 18},
}
RESPONSE_JSON = json.dumps(_RESPONSE, separators=(",", ":")).encode()


def _response_event(kind: str, seq: int, **fields: object) -> bytes:
    data = json.dumps({"type": kind, "sequence_number": seq, **fields}, separators=(",", ":"))
    return b"event: " + kind.encode() + b"\ndata: " + data.encode() + b"\n\n"


def responses_stream() -> list[bytes]:
    """vLLM's shape of a Responses stream: created, text deltas, completed (no [DONE])."""
    started = {**_RESPONSE, "status": "in_progress", "output": [], "usage": None}
    events = [_response_event("response.created", 0, response=started)]
    for i, word in enumerate(("Hello ", "from ", "the ", "stub.")):
        events.append(
            _response_event(
                "response.output_text.delta",
                i + 1,
                item_id="msg_stub",
                output_index=0,
                content_index=0,
                delta=word,
                logprobs=[],
            )
        )
    events.append(_response_event("response.completed", 5, response=_RESPONSE))
    return events


def _rename(name: str) -> None:
    """Answer as ``chatcmpl-<name>`` (plain and streamed)."""
    global _CHAT, _STREAM
    ident = b'"id":"chatcmpl-' + name.encode() + b'"'
    _CHAT = CHAT_JSON.replace(b'"id":"chatcmpl-stub"', ident)
    _STREAM = [e.replace(b'"id":"chatcmpl-stub"', ident) for e in sse_body()]


def _scripted(body: bytes) -> bytes:
    """The next scripted answer as a chat completion; records what was asked."""
    request = json.loads(body)
    texts = [
        part["text"]
        for message in request.get("messages", [])
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if part.get("type") == "text"
    ]
    _SEEN.append(
        {
            "num_crops": (request.get("mm_processor_kwargs") or {}).get("num_crops"),
            "text": texts[-1] if texts else None,
            "logprobs": request.get("logprobs"),
            "priority": request.get("priority"),
        }
    )
    content = _SCRIPT.pop(0) if _SCRIPT else "{}"
    choice: dict[str, object] = {
        "index": 0,
        "message": {"role": "assistant", "content": content},
        "finish_reason": "stop",
    }
    if request.get("logprobs"):
        tokens = [
            {"token": c, "logprob": SCRIPT_LOGPROB, "bytes": list(c.encode()), "top_logprobs": []}
            for c in content
        ]
        choice["logprobs"] = {"content": tokens}
    answer = {
        "id": "chatcmpl-script",
        "object": "chat.completion",
        "created": 1,
        "model": "stub-script",
        "choices": [choice],
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": len(content),
            "total_tokens": 100 + len(content),
        },
    }
    return json.dumps(answer).encode()


def _head(status: str, ctype: bytes, length: int | None) -> bytes:
    size = (
        b"transfer-encoding: chunked\r\n"
        if length is None
        else (b"content-length: " + str(length).encode() + b"\r\n")
    )
    return b"HTTP/1.1 " + status.encode() + b"\r\ncontent-type: " + ctype + b"\r\n" + size + b"\r\n"


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def _answer(method: bytes, path: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
    """Write one response; False if the connection must close afterwards."""
    if path == b"/health":
        writer.write(_head("200 OK", b"application/json", 2) + b"{}")
        return True
    if path == b"/stub/events":
        data = json.dumps(_EVENTS).encode()
        writer.write(_head("200 OK", b"application/json", len(data)) + data)
        return True
    if path == b"/stub/script":
        _SCRIPT[:] = json.loads(body)
        _SEEN.clear()
        writer.write(_head("200 OK", b"application/json", 2) + b"{}")
        return True
    if path == b"/stub/seen":
        data = json.dumps(_SEEN).encode()
        writer.write(_head("200 OK", b"application/json", len(data)) + data)
        return True
    if path == b"/stub/release":
        while _RELEASE:
            _RELEASE.pop().set()
        writer.write(_head("200 OK", b"application/json", 2) + b"{}")
        return True
    if path == b"/v1/models":
        data = b'{"object":"list","data":[{"id":"stub","object":"model","owned_by":"stub"}]}'
        writer.write(_head("200 OK", b"application/json", len(data)) + data)
        return True
    if method == b"POST" and path == b"/v1/responses":
        return await _responses(body, writer)
    if method != b"POST" or path != b"/v1/chat/completions":
        data = b'{"error":{"message":"not found","type":"NotFoundError","param":null,"code":404}}'
        writer.write(_head("404 Not Found", b"application/json", len(data)) + data)
        return True
    _EVENTS["requests"] += 1
    if _SERVICE_S:
        await asyncio.sleep(_SERVICE_S)
    found = _MODEL.search(body)
    model = found.group(1) if found else b"stub"
    stream = re.search(rb'"stream"\s*:\s*true', body) is not None
    if model == b"stub-slow":
        await asyncio.sleep(30)
    if model == b"stub-hold":
        _EVENTS["held"] += 1
        release = asyncio.Event()
        _RELEASE.append(release)
        try:
            await asyncio.wait_for(release.wait(), 30)
        except TimeoutError:
            pass
    if model == b"stub-nonjson":
        writer.write(_head("200 OK", b"application/json", 9) + b"not json!")
        return True
    if model == b"stub-error":
        data = (
            b'{"error":{"message":"model stub-error does not exist","type":"NotFoundError",'
            b'"param":"model","code":404}}'
        )
        writer.write(_head("404 Not Found", b"application/json", len(data)) + data)
        return True
    if model == b"stub-script":
        data = _scripted(body)
        writer.write(_head("200 OK", b"application/json", len(data)) + data)
        return True
    if model == b"stub-500":
        writer.write(_head("500 Internal Server Error", b"text/plain", 4) + b"oops")
        return True
    if not stream:
        writer.write(_head("200 OK", b"application/json", len(_CHAT)) + _CHAT)
        return True
    writer.write(_head("200 OK", b"text/event-stream", None))
    if model == b"stub-die":
        writer.write(_chunk(_STREAM[0]) + _chunk(_STREAM[1]))
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()
        return False
    if model == b"stub-crash":
        writer.write(_chunk(_STREAM[0]) + _chunk(_STREAM[1]))
        await writer.drain()
        await asyncio.sleep(0.05)
        os._exit(3)  # the replica dies mid-stream, like a killed vLLM
    if model == b"stub-drip":
        try:
            for i in range(600):
                writer.write(_chunk(_event({"content": f"d{i} "})))
                await writer.drain()
                await asyncio.sleep(0.1)
                if writer.transport.is_closing():
                    raise ConnectionResetError
            _EVENTS["drip_done"] += 1
            writer.write(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        except (ConnectionError, OSError):
            _EVENTS["disconnects"] += 1
            return False
        return True
    writer.write(b"".join(_chunk(e) for e in _STREAM) + b"0\r\n\r\n")
    return True


async def _responses(body: bytes, writer: asyncio.StreamWriter) -> bool:
    _EVENTS["requests"] += 1
    found = _MODEL.search(body)
    if re.search(rb'"stream"\s*:\s*true', body) is None:
        writer.write(_head("200 OK", b"application/json", len(RESPONSE_JSON)) + RESPONSE_JSON)
        return True
    events = responses_stream()
    writer.write(_head("200 OK", b"text/event-stream", None))
    if found and found.group(1) == b"stub-die":
        writer.write(_chunk(events[0]) + _chunk(events[1]))
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()
        return False
    writer.write(b"".join(_chunk(e) for e in events) + b"0\r\n\r\n")
    return True


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            request_line, _, rest = head.partition(b"\r\n")
            method, path, _ = request_line.split(b" ", 2)
            length = 0
            for line in rest.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:].strip())
            body = await reader.readexactly(length) if length else b""
            keep = await _answer(method, path.split(b"?", 1)[0], body, writer)
            await writer.drain()
            if not keep:
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def serve(host: str, port: int) -> None:
    server = await asyncio.start_server(_connection, host, port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="stub", help="answer with id chatcmpl-NAME")
    parser.add_argument("--service-ms", type=float, default=0.0, help="wait before each answer")
    args = parser.parse_args()
    global _SERVICE_S
    _SERVICE_S = args.service_ms / 1000
    if args.name != "stub":
        _rename(args.name)
    try:
        import uvloop

        uvloop.run(serve(args.host, args.port))
    except ImportError:  # pragma: no cover
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
