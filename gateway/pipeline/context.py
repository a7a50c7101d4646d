"""`Context`: everything the extraction pipeline needs from its caller, as plain values.

A route builds it from the app's state and the request (`gateway.extract.context_of`); a
batch worker or the Cog predictor builds it from its own. The pipeline never sees a
request, so every caller gets the same stages, limits and result.

``calls`` is the key's budget of upstream calls: every request to the engine runs inside
``async with ctx.calls.call():``, so that one key never has more than ``max_concurrent``
calls in flight, however many schemas and pages one request fans out to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import httpx

from ..record import RequestRecord
from ..settings import Settings
from .lookup import BUILTINS, SchemaSource

if TYPE_CHECKING:
    from ..documents import RenderPool
    from ..evidence import OcrPool
    from ..images import DecodeSlots
    from ..upstream import Upstream

__all__ = ["CallBudget", "Context", "UNBOUNDED"]


class CallBudget(Protocol):
    """Slots for calls to the engine; ``call()`` waits for one and gives it back after."""

    def call(self) -> AbstractAsyncContextManager[None]: ...


class _Unbounded:
    """No budget: a key without ``max_concurrent``."""

    @asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        yield


UNBOUNDED: CallBudget = _Unbounded()


@dataclass
class Context:
    """What one extraction runs with (see the module docstring)."""

    settings: Settings
    upstream: Upstream
    record: RequestRecord
    """Filled in as the pipeline goes: upstream time, tokens, error codes."""
    render_pool: RenderPool
    decode_slots: DecodeSlots | None = None
    fetch_client: httpx.AsyncClient | None = None
    """None: http(s) image URLs are refused (a caller that only has bytes)."""
    calls: CallBudget = field(default=UNBOUNDED)
    page_concurrency: int | None = None
    """Pages of one document asked at once; None: ``GATEWAY_DOCUMENT_PAGE_CONCURRENCY``.
    The key's ``calls`` budget bounds them across the whole request as well."""
    schemas: SchemaSource = field(default=BUILTINS)
    """Where schemas are found by name and version: the built-ins, and with a key store the
    kinds registered through the API (`gateway.custom.SchemaRegistry`)."""
    ocr_pool: OcrPool | None = None
    """OCR workers for grounding images and scanned pages (`gateway.pipeline.grounding`);
    None: such pages are not grounded (a note in the result says so)."""
