"""Talking to vLLM: one pooled ``aiohttp.ClientSession``, failures mapped to clear statuses.

    refused / unreachable → 503     timeout → 504     not JSON / broken → 502
    vLLM 4xx with an OpenAI error body → passed through as is

With several replicas (``replicas.ReplicaSet``) each request goes to the replica that
``pick(affinity)`` names. A connection that is refused (or times out connecting) takes that
replica out at once and the request is sent once more, to the next replica: nothing reached the
first one, so the retry is safe. A failure after the request went out is not retried (vLLM may
already be generating); the client gets the error below, and the next request that cannot
connect, or the health checker, takes the replica out.

Why aiohttp and not httpx here: measured on the 2-core dev machine against a fixed-response
stub, httpx's pool cost ~0.57 ms per request at 1 in flight and fell to ~600 req/s at 16
(httpcore checks every pooled connection's socket on each request), while aiohttp did ~9,000
and ~11,000 req/s. The upstream hop is the gateway's hot path. (Image fetches, which are
rare and need per-hop control, still use httpx: see ``fetch.py``.)

Streams are relayed chunk by chunk by ``relay.relay_response`` (in-band error event if the
stream breaks after the 200). Token counts come from ``usage``, parsed from plain answers here
and found in the stream's last chunks there.
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
from starlette.responses import Response

from ..errors import ErrorCode, GatewayError
from ..leases import Lease
from ..metrics import GatewayMetrics
from ..record import RequestRecord
from ..settings import Settings
from .relay import CHAT_END, StreamEnd, relay_response
from .replicas import Replica, ReplicaSet

__all__ = ["Upstream", "make_upstream_session", "UPSTREAM_ERRORS", "CONNECT_ERRORS"]

UPSTREAM_ERRORS = (aiohttp.ClientError, TimeoutError)
CONNECT_ERRORS = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
"""Failures before any byte of the request was sent: safe to retry elsewhere."""


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
    """Forwards requests to a vLLM replica and turns what comes back into gateway responses."""

    def __init__(
        self, session: aiohttp.ClientSession, replicas: ReplicaSet, metrics: GatewayMetrics
    ) -> None:
        self.session = session
        self.replicas = replicas
        self.metrics = metrics

    def _fail(self, exc: BaseException) -> GatewayError:
        if isinstance(exc, CONNECT_ERRORS):
            code, status, text = (
                ErrorCode.UPSTREAM_UNAVAILABLE,
                503,
                "upstream model server is unavailable",
            )
            if len(self.replicas) > 1 and not self.replicas.any_up:
                text = f"no upstream model server is available (all {len(self.replicas)} are down)"
        elif isinstance(exc, TimeoutError):  # aiohttp's socket/server timeouts included
            code, status, text = ErrorCode.UPSTREAM_TIMEOUT, 504, "upstream model server timed out"
        else:
            code, status, text = (
                ErrorCode.UPSTREAM_MALFORMED,
                502,
                "upstream model server broke the connection",
            )
        self.metrics.upstream_errors.labels(kind=code.removeprefix("upstream_")).inc()
        return GatewayError(status, f"{text} ({type(exc).__name__})", code=code)

    def _error_answer(self, status: int, content: bytes, record: RequestRecord) -> Response:
        """vLLM said no: pass a well-formed 4xx through; anything else becomes 502/503."""
        try:
            body = json.loads(content)
            well_formed = isinstance(body, dict) and isinstance(body.get("error"), dict)
        except ValueError:
            body, well_formed = None, False
        if status < 500 and well_formed:
            record.error_code = ErrorCode.UPSTREAM_REFUSED  # vLLM's own body goes out as is
            return Response(content, status_code=status, media_type="application/json")
        self.metrics.upstream_errors.labels(kind=f"status_{status // 100}xx").inc()
        message = body["error"].get("message") if well_formed and body else None
        out = 503 if status == 503 else 502
        raise GatewayError(
            out,
            f"upstream model server answered HTTP {status}" + (f": {message}" if message else ""),
            code=ErrorCode.UPSTREAM_ERROR,
        )

    async def _open(
        self, path: str | None, affinity: bytes | None, post: str | None = None, **kwargs: Any
    ) -> tuple[Lease, aiohttp.ClientResponse]:
        """Send to the picked replica: POST ``post`` (chat when None) when ``path`` is None,
        else GET ``path``.

        The returned lease holds the replica's in-flight slot; the caller releases it when the
        answer has been read (or relayed).
        """
        replicas = self.replicas
        replica = replicas.pick(affinity)
        for attempt in (0, 1):
            lease = replica.enter()
            replica.sent.inc()
            try:
                if path is None:
                    url = replica.chat_url if post is None else replica.url + post
                    response = await self.session.post(url, **kwargs)
                else:
                    response = await self.session.get(replica.url + path, **kwargs)
                return lease, response
            except CONNECT_ERRORS as exc:
                lease.release()
                replicas.mark_down(replica, f"connection failed ({type(exc).__name__})")
                retry = replicas.pick(affinity) if attempt == 0 else replica
                if retry is replica or not retry.up:
                    raise self._fail(exc) from exc
                replica = retry
            except BaseException as exc:  # cancelled (client gone) included
                lease.release()
                if isinstance(exc, UPSTREAM_ERRORS):
                    raise self._fail(exc) from exc
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def get(
        self, path: str, record: RequestRecord, route: str, affinity: bytes | None = None
    ) -> Response:
        """GET a JSON document (``/v1/models``) and pass it through."""
        start = time.perf_counter()
        lease, response = await self._open(path, affinity)
        content = await self._read_all(lease, response)
        return self._plain(response.status, content, record, route, start)

    async def chat(
        self,
        body: bytes,
        record: RequestRecord,
        route: str,
        stream: bool,
        affinity: bytes | None = None,
        *,
        post: str | None = None,
        end: StreamEnd = CHAT_END,
    ) -> Response:
        """POST /v1/chat/completions (or ``post``, such as /v1/responses) upstream; stream the
        answer when ``stream`` is set, a stream that finishes as ``end`` says.

        ``affinity`` is the routing key (the first image's digest, ``ImagePart.digest``); None
        sends the request to the least-loaded replica.
        """
        headers = {"content-type": "application/json", "x-request-id": record.request_id}
        start = time.perf_counter()
        lease, response = await self._open(None, affinity, post, data=body, headers=headers)
        if response.status == 500:
            # vLLM 0.32 answers 500 when its front-end and engine multimodal caches drift
            # apart under concurrent image requests ("P0/P1 cache drift", vllm#46747); a resend
            # with the image data heals it, and every request from the gateway carries the
            # data. Nothing has reached the client yet, so one retry on the same replica is safe.
            await self._read_all(lease, response)
            self.metrics.upstream_errors.labels(kind="retried_500").inc()
            lease, response = await self._open(None, affinity, post, data=body, headers=headers)
        if stream:
            return await self._stream(response, lease, record, route, start, end)
        content = await self._read_all(lease, response)
        return self._plain(response.status, content, record, route, start)

    async def _read_all(self, lease: Lease, response: aiohttp.ClientResponse) -> bytes:
        """The whole body of a plain answer; frees the connection and the replica's slot."""
        try:
            return await response.read()
        except UPSTREAM_ERRORS as exc:
            raise self._fail(exc) from exc
        finally:
            response.release()
            lease.release()

    async def complete_json(
        self, body: bytes, record: RequestRecord, route: str, affinity: bytes | None = None
    ) -> dict[str, Any]:
        """A non-streaming chat completion as vLLM's parsed JSON, for routes that post-process
        the answer (extraction). Same failure mapping and routing as ``chat``; a vLLM 4xx
        raises too."""
        response = await self.chat(body, record, route, stream=False, affinity=affinity)
        answer = json.loads(bytes(response.body))
        if response.status_code >= 400:
            error = answer.get("error", {})
            raise GatewayError(
                response.status_code,
                str(error.get("message") or "the model server refused the request"),
                type=str(error.get("type") or "invalid_request_error"),
                param=error.get("param"),
                code=ErrorCode.UPSTREAM_REFUSED,
            )
        return dict(answer)

    def _plain(
        self, status: int, content: bytes, record: RequestRecord, route: str, start: float
    ) -> Response:
        elapsed = time.perf_counter() - start
        record.upstream_ms = round(elapsed * 1000, 3)
        self.metrics.upstream_latency.labels(route=route).observe(elapsed)
        if status >= 400:
            return self._error_answer(status, content, record)
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.metrics.upstream_errors.labels(kind="malformed").inc()
            raise GatewayError(
                502,
                "upstream model server sent a malformed (non-JSON) answer",
                code=ErrorCode.UPSTREAM_MALFORMED,
            )
        usage = body.get("usage")
        if isinstance(usage, dict):
            self._count(record, usage.get("prompt_tokens"), usage.get("completion_tokens"))
        return Response(content, status_code=status, media_type="application/json")

    def _count(self, record: RequestRecord, prompt: Any, completion: Any) -> None:
        """Add a finished answer's tokens, several times for a request that makes several
        calls (an extraction over several schemas): the record keeps the sums."""
        prompt_counter, completion_counter = self.metrics.token_counters(record.key_name or "-")
        if isinstance(prompt, int):
            record.prompt_tokens = (record.prompt_tokens or 0) + prompt
            prompt_counter.inc(prompt)
        if isinstance(completion, int):
            record.completion_tokens = (record.completion_tokens or 0) + completion
            completion_counter.inc(completion)

    async def _stream(
        self,
        response: aiohttp.ClientResponse,
        lease: Lease,
        record: RequestRecord,
        route: str,
        start: float,
        end: StreamEnd,
    ) -> Response:
        elapsed = time.perf_counter() - start
        record.upstream_ms = round(elapsed * 1000, 3)
        record.stream = True
        self.metrics.upstream_latency.labels(route=route).observe(elapsed)
        if response.status >= 400:
            content = await self._read_all(lease, response)
            return self._error_answer(response.status, content, record)
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.close()
            lease.release()
            self.metrics.upstream_errors.labels(kind="malformed").inc()
            raise GatewayError(
                502,
                "upstream model server did not answer with an event stream",
                code=ErrorCode.UPSTREAM_MALFORMED,
            )
        # The record holds the replica's slot too, so that whichever way the stream ends
        # (finished, client gone before the relay started, upstream broken) it is given back.
        record.hold(lease)
        return relay_response(response, lease, record, self.metrics, self._count, end)

    async def healthy(self, replica: Replica, timeout: float) -> tuple[bool, str]:
        """Is this replica's ``/health`` answering 200? (Not counted as a request.)"""
        try:
            async with self.session.get(
                replica.url + "/health", timeout=aiohttp.ClientTimeout(total=timeout)
            ) as r:
                return r.status == 200, f"HTTP {r.status}"
        except UPSTREAM_ERRORS as exc:
            return False, type(exc).__name__
