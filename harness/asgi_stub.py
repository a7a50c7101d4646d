"""The gateway stub's fixed answers served the way vLLM serves: an ASGI app on uvicorn.

``gateway_stub`` speaks raw asyncio HTTP and answers in tens of microseconds. This one
serves the same bytes through uvicorn (httptools, uvloop), the server vLLM's OpenAI API runs
on, so ``bench.gateway_overhead`` can tell whether a throughput gap is the raw stub's speed
or the gateway's own cost. (Measured: the framework-free ASGI app on uvicorn is nearly as fast
as the raw stub, so the gap is the gateway's.)

    python -m harness.asgi_stub --port 9001
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import uvicorn

from harness.gateway_stub import CHAT_JSON, sse_body

__all__ = ["app", "receive_body"]

_CHAT = CHAT_JSON
_STREAM = sse_body()
_JSON = [(b"content-type", b"application/json")]


async def receive_body(receive: Any) -> bytes:
    """The whole request body from ASGI ``http.request`` messages."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = await receive_body(receive)
    if scope["path"] == "/health":
        await send({"type": "http.response.start", "status": 200, "headers": _JSON})
        await send({"type": "http.response.body", "body": b"{}"})
        return
    if b'"stream": true' in body or b'"stream":true' in body or json.loads(body).get("stream"):
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for event in _STREAM:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": _JSON})
    await send({"type": "http.response.body", "body": _CHAT})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
        http="httptools", loop="uvloop",
    )  # fmt: skip


if __name__ == "__main__":
    main()
