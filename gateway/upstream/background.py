"""``BackgroundUpstream``: the upstream client as background work (batch lines) uses it.

Two things set a background call apart from an interactive one:

* **Priority.** vLLM, started with ``--scheduling-policy priority`` (every engine profile),
  runs a lower ``priority`` number first. Interactive calls carry none (0); every background
  call carries ``GATEWAY_BACKGROUND_PRIORITY`` (default 10), spliced into the body here, so
  a running batch waits behind chat instead of starving it. Clients cannot send ``priority``
  (``caps.check_generation`` refuses it), so the body never carries it twice.
* **A cap.** At most ``GATEWAY_BACKGROUND_MAX_IN_FLIGHT`` calls per replica are in flight
  from this process (a semaphore of that size times the number of replicas); the rest wait.

It is an ``Upstream`` over the same session and replica set, so the pipeline (``Context``),
``complete_json`` and the failure mapping work unchanged. Streams are not background work.

    background = BackgroundUpstream(app.state.upstream, settings)
    answer = await background.complete_json(body, record, "/v1/extract/receipt")
"""

from __future__ import annotations

import asyncio

from starlette.responses import Response

from ..record import RequestRecord
from ..settings import Settings
from .client import Upstream
from .relay import CHAT_END, StreamEnd

__all__ = ["BackgroundUpstream", "with_priority"]


def with_priority(body: bytes, priority: int) -> bytes:
    """``body`` (a JSON object) with ``"priority": priority`` added as its last member.

    Spliced rather than re-encoded: a body with images is megabytes of JSON."""
    end = body.rstrip()
    if not end.endswith(b"}"):
        raise ValueError("a chat body must be a JSON object")
    inner = end[:-1].rstrip()
    separator = b"" if inner.endswith(b"{") else b","
    return inner + separator + b'"priority":' + str(int(priority)).encode() + b"}"


class BackgroundUpstream(Upstream):
    """``Upstream`` whose calls carry the background priority, within the background cap."""

    def __init__(self, upstream: Upstream, settings: Settings) -> None:
        super().__init__(upstream.session, upstream.replicas, upstream.metrics)
        self.priority = settings.background_priority
        self.slots = asyncio.Semaphore(settings.background_max_in_flight * len(upstream.replicas))

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
        if stream:
            raise ValueError("background calls do not stream")
        body = with_priority(body, self.priority)
        gauge = self.metrics.background_in_flight
        async with self.slots:
            gauge.inc()
            try:
                return await super().chat(body, record, route, False, affinity, post=post, end=end)
            finally:
                gauge.dec()
