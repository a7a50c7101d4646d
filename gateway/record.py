"""``RequestRecord``: what the gateway learns about one request, in one typed place.

``RequestObserver`` creates it when a request arrives and writes the access-log line and the
metrics from it when the last byte has gone out. Everything in between fills it in: the
admission step (key name, the key's concurrency lease), the upstream client (replica lease,
upstream time, token counts, stream), the error handlers (error code).

    record = record_of(request)
    record.key_name = "alice"
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

if TYPE_CHECKING:
    from .leases import Lease

__all__ = ["RequestRecord", "record_of", "SCOPE_KEY"]

SCOPE_KEY = "gateway.record"
"""Where the record lives in the ASGI scope (an extension key, not ``request.state``)."""


@dataclass(slots=True)
class RequestRecord:
    """One request's facts. Fields left None are left out of the access log line."""

    request_id: str
    start: float
    """``time.perf_counter()`` at arrival: time to first token and latency count from here."""
    key_name: str | None = None
    upstream_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    stream: bool | None = None
    error_code: str | None = None
    leases: list[Lease] = field(default_factory=list)
    """Held until the response is complete (streams included), then released by the observer:
    the key's concurrency slot, and with a stream the replica's in-flight slot."""

    def hold(self, lease: Lease) -> None:
        self.leases.append(lease)

    def release_all(self) -> None:
        for lease in self.leases:
            lease.release()
        self.leases.clear()

    def log_fields(self) -> dict[str, Any]:
        """The optional fields of the access log line that are set."""
        out: dict[str, Any] = {}
        for name in ("upstream_ms", "prompt_tokens", "completion_tokens", "stream", "error_code"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


def record_of(request: Request) -> RequestRecord:
    """The request's record. The observer creates it on arrival; an app built without the
    observer (a bare test app) gets one here, so that callers never test for None."""
    record = request.scope.get(SCOPE_KEY)
    if not isinstance(record, RequestRecord):
        record = request.scope[SCOPE_KEY] = RequestRecord("-", time.perf_counter())
    return record
