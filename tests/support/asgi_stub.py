"""The gateway stub's fixed answers served the way vLLM serves: an ASGI app on uvicorn.

``gateway_stub.py`` speaks raw asyncio HTTP and answers in tens of microseconds, faster than
any Python web server; as a throughput baseline it measures the stub more than the gateway.
This one serves the same bytes through uvicorn (httptools, uvloop), as vLLM's own OpenAI
server does, so ``bench/gateway_overhead.py`` can report the gateway's throughput against an
upstream of the same kind as the real one, side by side with the raw baseline.

    python tests/support/asgi_stub.py --port 9001
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_stub import CHAT_JSON, sse_body  # noqa: E402

__all__ = ["app"]

_CHAT = CHAT_JSON.encode() if isinstance(CHAT_JSON, str) else CHAT_JSON
_STREAM = sse_body()
_JSON = [(b"content-type", b"application/json")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
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
