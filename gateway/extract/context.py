"""The pipeline's `Context` for an HTTP request: the app's state and the request's record.

Built once per request and kept in the ASGI scope, so that reading the input and running
the pipeline share one context, and every engine call of the request (each schema, each
page) takes its slot from the key's one budget (`gateway.auth.CallSlots`: the admission slot
first, then extra slots waited for one at a time).
"""

from __future__ import annotations

from starlette.requests import Request

from ..auth import call_slots
from ..pipeline import Context
from ..record import record_of

__all__ = ["context_of"]

_SCOPE_KEY = "gateway.pipeline_context"


def context_of(request: Request) -> Context:
    """The request's pipeline context (created on first use)."""
    ctx = request.scope.get(_SCOPE_KEY)
    if isinstance(ctx, Context):
        return ctx
    state = request.app.state
    ctx = Context(
        settings=state.settings,
        upstream=state.upstream,
        record=record_of(request),
        render_pool=state.render_pool,
        decode_slots=state.decode_slots,
        fetch_client=state.fetch_client,
        calls=call_slots(request),
        schemas=state.schema_registry,
        ocr_pool=getattr(state, "ocr_pool", None),
    )
    request.scope[_SCOPE_KEY] = ctx
    return ctx
