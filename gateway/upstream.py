"""Talking to vLLM: one pooled ``aiohttp.ClientSession``, failures mapped to clear statuses.

    refused / unreachable → 503     timeout → 504     not JSON / broken → 502
    vLLM 4xx with an OpenAI error body → passed through as is

Why aiohttp and not httpx here: measured on the 2-core dev machine against a fixed-response
stub, httpx's pool cost ~0.57 ms per request at 1 in flight and fell to ~600 req/s at 16
(httpcore checks every pooled connection's socket on each request), while aiohttp did ~9,000
and ~11,000 req/s. The upstream hop is the gateway's hot path. (Image fetches, which are
rare and need per-hop control, still use httpx: see ``fetch.py``.)

Streams are relayed chunk by chunk as vLLM writes them (``iter_any``, no re-framing). If the
stream breaks after the 200 went out, the client gets an in-band ``data: {"error": …}`` event
and ``data: [DONE]``, which the openai SDK raises as ``APIError``. When the client goes away,
Starlette cancels the relay and the upstream connection is closed, so vLLM aborts the request
and frees its KV blocks.

Token counts come from ``usage``: parsed from the body for plain answers; for streams, found
with a byte search in the chunk that carries the final usage, so ordinary chunks cost a single
``in`` test.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from .errors import GatewayError, error_body
from .metrics import GatewayMetrics
from .settings import Settings

__all__ = ["Upstream", "make_upstream_session", "UPSTREAM_ERRORS"]

_PROMPT = re.compile(rb'"prompt_tokens":\s*(\d+)')
_COMPLETION = re.compile(rb'"completion_tokens":\s*(\d+)')
_DONE = b"data: [DONE]"
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
UPSTREAM_ERRORS = (aiohttp.ClientError, TimeoutError)


def make_upstream_session(settings: Settings) -> aiohttp.ClientSession:
    """Pooled session for vLLM; ``sock_read`` = longest silence allowed between two reads.

    Must be created inside the running event loop (the app's lifespan does).
    """
    headers = {"accept-encoding": "identity"}
    if settings.upstream_api_key is not None:
        headers["authorization"] = f"Bearer {settings.upstream_api_key.get_secret_value()}"
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=settings.upstream_max_connections, keepalive_timeout=30.0
        ),
        timeout=aiohttp.ClientTimeout(
            total=None,
            connect=settings.upstream_connect_timeout_s,
            sock_read=settings.upstream_read_timeout_s,
        ),
        headers=headers,
        auto_decompress=False,
        trust_env=False,
    )


class Upstream:
    """Forwards requests to vLLM and turns what comes back into gateway responses."""

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, metrics: GatewayMetrics
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.metrics = metrics
        self._chat_url = self.base_url + "/v1/chat/completions"

    def _fail(self, exc: BaseException) -> GatewayError:
        if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
            kind, status, text = "unavailable", 503, "upstream model server is unavailable"
        elif isinstance(exc, TimeoutError):  # aiohttp's socket/server timeouts included
            kind, status, text = "timeout", 504, "upstream model server timed out"
        else:
            kind, status, text = "malformed", 502, "upstream model server broke the connection"
        self.metrics.upstream_errors.labels(kind=kind).inc()
        return GatewayError(status, f"{text} ({type(exc).__name__})", code=f"upstream_{kind}")

    def _error_answer(self, status: int, content: bytes) -> Response:
        """vLLM said no: pass a well-formed 4xx through; anything else becomes 502/503."""
        try:
            body = json.loads(content)
            well_formed = isinstance(body, dict) and isinstance(body.get("error"), dict)
        except ValueError:
            body, well_formed = None, False
        if status < 500 and well_formed:
            return Response(content, status_code=status, media_type="application/json")
        self.metrics.upstream_errors.labels(kind=f"status_{status // 100}xx").inc()
        message = body["error"].get("message") if well_formed and body else None
        out = 503 if status == 503 else 502
        raise GatewayError(
            out,
            f"upstream model server answered HTTP {status}" + (f": {message}" if message else ""),
            code="upstream_error",
        )

    async def get(self, path: str, state: Any, route: str) -> Response:
        """GET a JSON document (``/v1/models``) and pass it through."""
        start = time.perf_counter()
        try:
            async with self.session.get(self.base_url + path) as response:
                content = await response.read()
        except UPSTREAM_ERRORS as exc:
            raise self._fail(exc) from exc
        return self._plain(response.status, content, state, route, start)

    async def chat(self, body: bytes, state: Any, route: str, stream: bool) -> Response:
        """POST /v1/chat/completions upstream; stream the answer when ``stream`` is set."""
        headers = {"content-type": "application/json"}
        request_id = getattr(state, "request_id", None)
        if request_id:
            headers["x-request-id"] = request_id
        start = time.perf_counter()
        try:
            response = await self.session.post(self._chat_url, data=body, headers=headers)
        except UPSTREAM_ERRORS as exc:
            raise self._fail(exc) from exc
        if stream:
            return await self._stream(response, state, route, start)
        try:
            content = await response.read()
        except UPSTREAM_ERRORS as exc:
            raise self._fail(exc) from exc
        finally:
            response.release()
        return self._plain(response.status, content, state, route, start)

    def _plain(self, status: int, content: bytes, state: Any, route: str, start: float) -> Response:
        elapsed = time.perf_counter() - start
        state.upstream_ms = round(elapsed * 1000, 3)
        self.metrics.upstream_latency.labels(route=route).observe(elapsed)
        if status >= 400:
            return self._error_answer(status, content)
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.metrics.upstream_errors.labels(kind="malformed").inc()
            raise GatewayError(
                502,
                "upstream model server sent a malformed (non-JSON) answer",
                code="upstream_malformed",
            )
        usage = body.get("usage")
        if isinstance(usage, dict):
            self._count(state, usage.get("prompt_tokens"), usage.get("completion_tokens"))
        return Response(content, status_code=status, media_type="application/json")

    def _count(self, state: Any, prompt: Any, completion: Any) -> None:
        key = getattr(state, "key_name", None) or "-"
        if isinstance(prompt, int):
            state.prompt_tokens = prompt
            self.metrics.tokens.labels(key=key, kind="prompt").inc(prompt)
        if isinstance(completion, int):
            state.completion_tokens = completion
            self.metrics.tokens.labels(key=key, kind="completion").inc(completion)

    async def _stream(
        self, response: aiohttp.ClientResponse, state: Any, route: str, start: float
    ) -> Response:
        elapsed = time.perf_counter() - start
        state.upstream_ms = round(elapsed * 1000, 3)
        state.stream = True
        self.metrics.upstream_latency.labels(route=route).observe(elapsed)
        if response.status >= 400:
            try:
                content = await response.read()
            except UPSTREAM_ERRORS as exc:
                raise self._fail(exc) from exc
            finally:
                response.release()
            return self._error_answer(response.status, content)
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.close()
            self.metrics.upstream_errors.labels(kind="malformed").inc()
            raise GatewayError(
                502,
                "upstream model server did not answer with an event stream",
                code="upstream_malformed",
            )

        async def close() -> None:  # after the stream, or after a client disconnect
            response.close()

        return StreamingResponse(
            self._relay(response, state),
            media_type="text/event-stream",
            headers=_SSE_HEADERS,
            background=BackgroundTask(close),
        )

    async def _relay(self, response: aiohttp.ClientResponse, state: Any) -> AsyncIterator[bytes]:
        tail = b""
        first = True
        finished = False
        usage: tuple[int | None, int | None] | None = None
        try:
            async for chunk in response.content.iter_any():
                if first:
                    first = False
                    self.metrics.ttft.observe(time.perf_counter() - state.start)
                if b'"usage"' in chunk:
                    usage = _find_usage(tail + chunk) or usage
                tail = chunk[-512:]
                yield chunk
            if not tail.rstrip().endswith(_DONE):
                raise aiohttp.ClientPayloadError("stream ended without data: [DONE]")
            finished = True
        except UPSTREAM_ERRORS as exc:
            kind = "timeout" if isinstance(exc, TimeoutError) else "midstream"
            self.metrics.upstream_errors.labels(kind=kind).inc()
            state.error_code = f"upstream_{kind}"
            body = error_body(
                f"upstream model server failed mid-stream ({type(exc).__name__})",
                "upstream_error",
                None,
                f"upstream_{kind}",
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
            if usage is not None:
                self._count(state, *usage)

    async def healthy(self, timeout: float) -> tuple[bool, str]:
        """Is vLLM's ``/health`` answering 200?"""
        try:
            async with self.session.get(
                self.base_url + "/health", timeout=aiohttp.ClientTimeout(total=timeout)
            ) as r:
                return r.status == 200, f"HTTP {r.status}"
        except UPSTREAM_ERRORS as exc:
            return False, type(exc).__name__


def _find_usage(window: bytes) -> tuple[int | None, int | None] | None:
    """(prompt, completion) tokens from the last ``"usage":{…}`` in ``window``, if any."""
    at = max(window.rfind(b'"usage":{'), window.rfind(b'"usage": {'))
    if at < 0:
        return None
    prompt = _PROMPT.search(window, at)
    completion = _COMPLETION.search(window, at)
    return (
        int(prompt.group(1)) if prompt else None,
        int(completion.group(1)) if completion else None,
    )
