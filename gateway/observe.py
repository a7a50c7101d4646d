"""One pure-ASGI middleware for the per-request bookkeeping: request id, access log, metrics.

Pure ASGI (not ``BaseHTTPMiddleware``) so that streams pass through untouched and the cost per
request stays at a few microseconds. It creates each request's ``RequestRecord``
(``record.py``), which the admission step, the upstream client and the error handlers fill in,
and releases the record's leases (the key's concurrency slot, a stream's replica slot) once the
response is complete. The log line is written from the record when the last byte has been
sent, so it covers streams.

A log line is one JSON object on the ``gateway.access`` logger:

    {"ts": "2026-11-22T21:40:00.123Z", "request_id": "5f0c…", "method": "POST",
     "route": "/v1/chat/completions", "status": 200, "latency_ms": 812.4, "upstream_ms": 811.9,
     "key": "alice", "prompt_tokens": 779, "completion_tokens": 20, "stream": false}

Nothing from the request body is logged, so no base64 or image bytes can appear.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ErrorCode, error_body
from .metrics import GatewayMetrics
from .record import SCOPE_KEY, RequestRecord

__all__ = ["RequestObserver", "access_log"]

access_log = logging.getLogger("gateway.access")
_ID_OK = re.compile(r"[A-Za-z0-9._-]{1,64}")
_500 = json.dumps(
    error_body("internal error in the gateway", "internal_error", code=ErrorCode.INTERNAL_ERROR)
).encode()
_ID_PREFIX = os.urandom(4).hex()
_ID_SERIAL = itertools.count(1)
"""Request ids are a random per-process prefix and a serial: unique across workers and
restarts, and they cost no system call on the hot path (``secrets.token_hex`` did)."""


def _new_id_prefix() -> None:
    global _ID_PREFIX
    _ID_PREFIX = os.urandom(4).hex()


os.register_at_fork(after_in_child=_new_id_prefix)  # a forked worker must not repeat ids


class RequestObserver:
    """Assigns ``x-request-id``, logs one JSON line and records metrics for each request."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        incoming = _header(scope, b"x-request-id")
        if incoming and _ID_OK.fullmatch(incoming):
            request_id = incoming
        else:
            request_id = f"{_ID_PREFIX}{next(_ID_SERIAL):08x}"
        record = scope[SCOPE_KEY] = RequestRecord(request_id, start)
        status = 500
        started = False
        id_header = (b"x-request-id", request_id.encode())

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            access_log.exception("unhandled error, request_id=%s", request_id)
            status = 500
            record.error_code = record.error_code or ErrorCode.INTERNAL_ERROR
            if not started:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json"), id_header],
                    }
                )
                await send({"type": "http.response.body", "body": _500})
        finally:
            record.release_all()
            self._record(scope, record, status, time.perf_counter() - start)

    def _record(self, scope: Scope, record: RequestRecord, status: int, elapsed: float) -> None:
        route_obj = scope.get("route")
        route = getattr(route_obj, "path", None) or "unmatched"
        key = record.key_name or "-"
        count, latency = self.metrics.request_children(route, str(status), key)
        count.inc()
        latency.observe(elapsed)
        if not access_log.isEnabledFor(logging.INFO):
            return
        line: dict[str, Any] = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "request_id": record.request_id,
            "method": scope.get("method"),
            "route": route,
            "status": status,
            "latency_ms": round(elapsed * 1000, 3),
            "key": record.key_name,
        }
        if route == "unmatched":
            line["path"] = str(scope.get("path", ""))[:200]
        line.update(record.log_fields())
        access_log.info(json.dumps(line))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            try:
                return str(value.decode("latin-1"))
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes anything
                return None
    return None
