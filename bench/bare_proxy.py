"""The least any Python proxy on uvicorn does: a floor for ``bench.gateway_overhead``.

It reads the request body, POSTs it upstream on one pooled aiohttp session (the gateway's
client) and sends the answer back. No key check, no body checks, no images, no access log,
no metrics, no streaming: whatever throughput this keeps of an upstream, the gateway (which
runs on the same server and client) cannot keep more. Not for serving anything.

    python -m bench.bare_proxy --upstream http://127.0.0.1:9001 --port 9002
"""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp
import uvicorn

from harness.asgi_stub import receive_body

__all__ = ["make_app"]

_JSON = (b"content-type", b"application/json")


def make_app(upstream: str) -> Any:
    session: aiohttp.ClientSession | None = None

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal session
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512))
                    await send({"type": "lifespan.startup.complete"})
                else:
                    if session is not None:
                        await session.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = await receive_body(receive)
        if scope["path"] == "/health" or session is None:
            status, data = 200, b"{}"
        else:
            async with session.post(
                upstream + scope["path"], data=body, headers={"content-type": "application/json"}
            ) as response:
                status, data = response.status, await response.read()
        length = (b"content-length", str(len(data)).encode())
        await send({"type": "http.response.start", "status": status, "headers": [_JSON, length]})
        await send({"type": "http.response.body", "body": data})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        make_app(args.upstream.rstrip("/")),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
