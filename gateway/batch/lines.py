"""Running one batch line: the synchronous route's own body step, then the engine.

A line's ``body`` goes through exactly what its route does (``chat.prepare_chat``,
``responses.prepare_responses``, ``extract.load_extract_fields`` + ``pipeline.extract``),
with three differences that make it background work: the calls go through
``BackgroundUpstream`` (vLLM ``priority`` = ``GATEWAY_BACKGROUND_PRIORITY``, a per-replica
cap), they take the key's call slots as ``CallSlots.background`` (at most
``max_concurrent − 1``, so the key's interactive calls still get one), and nothing streams.

    outcome = await runner.run(unit)   # LineOutcome, or EngineTrouble to retry later
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from .. import caps, pipeline
from ..auth import CallSlots
from ..bodies import dump_json
from ..chat import prepare_chat
from ..error_handlers import validation_error
from ..errors import ErrorCode, GatewayError
from ..extract.inputs import load_extract_fields
from ..pipeline.models import ExtractRequest
from ..record import RequestRecord
from ..responses import prepare_responses
from ..settings import Settings
from ..upstream import BackgroundUpstream
from ..upstream.relay import RESPONSES_END
from .endpoints import EXTRACT_PREFIX
from .store import Unit

if TYPE_CHECKING:
    import httpx

    from ..auth.admission import Limiter
    from ..documents import RenderPool
    from ..evidence import OcrPool
    from ..images import DecodeSlots

__all__ = ["ENGINE_TROUBLE", "EngineTrouble", "LineOutcome", "LineRunner", "output_line"]

log = logging.getLogger("gateway.batch")

ENGINE_TROUBLE = frozenset(
    {
        ErrorCode.UPSTREAM_UNAVAILABLE,
        ErrorCode.UPSTREAM_TIMEOUT,
        ErrorCode.UPSTREAM_MALFORMED,
        ErrorCode.UPSTREAM_MIDSTREAM,
        ErrorCode.UPSTREAM_ERROR,
    }
)
"""Failures that say the engine is down or restarting (connection refused, a 5xx such as
``EngineDeadError``, silence): the line is retried later, not failed."""


class EngineTrouble(Exception):
    """The engine could not answer this time; ``error`` is what the client would have got."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True, slots=True)
class LineOutcome:
    """A definitive answer for one line: what the synchronous route would have answered."""

    status_code: int
    body: dict[str, Any]
    request_id: str

    @property
    def failed(self) -> bool:
        return self.status_code >= 400


def output_line(
    custom_id: str,
    response: tuple[int, str, dict[str, Any]] | None,
    error: dict[str, str] | None = None,
) -> str:
    """One line of an output or error file, in OpenAI's format: ``response`` is
    (status_code, request_id, body), or None with ``error`` {code, message}."""
    line = {
        "id": "batch_req_" + secrets.token_hex(12),
        "custom_id": custom_id,
        "response": None
        if response is None
        else {"status_code": response[0], "request_id": response[1], "body": response[2]},
        "error": error,
    }
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def _no_stream(payload: dict[str, Any]) -> None:
    if payload.get("stream") is True:
        raise caps.bad_value("stream", "is not supported in a batch (each line is answered whole)")


class LineRunner:
    """Runs batch lines against the engine with the app's shared pieces."""

    def __init__(
        self,
        settings: Settings,
        upstream: BackgroundUpstream,
        limiter: Limiter,
        render_pool: RenderPool,
        decode_slots: DecodeSlots | None,
        fetch_client: httpx.AsyncClient | None,
        schemas: pipeline.SchemaSource = pipeline.BUILTINS,
        ocr_pool: OcrPool | None = None,
    ) -> None:
        self.schemas = schemas
        """Where extraction lines find their schema: built-ins and registered kinds."""
        self.settings = settings
        self.upstream = upstream
        self.limiter = limiter
        self.render_pool = render_pool
        self.decode_slots = decode_slots
        self.fetch_client = fetch_client
        self.ocr_pool = ocr_pool

    def _slots(self, unit: Unit) -> CallSlots:
        """The key's budget for background calls: ``max_concurrent − 1`` (at least 1), so an
        interactive call of the key always finds a slot while its batch runs."""
        limit = unit.max_concurrent
        if limit is not None:
            limit = max(1, limit - 1)
        return CallSlots.background(self.limiter, unit.key_name, limit)

    async def run(self, unit: Unit) -> LineOutcome:
        """The line's definitive answer; ``EngineTrouble`` when the engine could not give one."""
        record = RequestRecord("req_" + secrets.token_hex(12), time.perf_counter())
        record.key_name = unit.key_name
        try:
            payload = json.loads(unit.body)
            status, body = await self._answer(unit, payload, record)
        except GatewayError as exc:
            if exc.code in ENGINE_TROUBLE:
                raise EngineTrouble(exc) from None
            status, body = exc.status, exc.body()
        except RequestValidationError as exc:
            error = validation_error(exc)
            status, body = error.status, error.body()
        except Exception as exc:  # a bug: the line fails, the batch goes on (no content logged)
            log.error("batch line %s failed: %s", unit.id, type(exc).__name__, exc_info=exc)
            error = GatewayError(
                500, "internal error in the gateway", code=ErrorCode.INTERNAL_ERROR
            )
            status, body = error.status, error.body()
        return LineOutcome(status, body, record.request_id)

    async def _answer(
        self, unit: Unit, payload: dict[str, Any], record: RequestRecord
    ) -> tuple[int, dict[str, Any]]:
        settings = self.settings
        slots = self._slots(unit)
        if unit.endpoint == "/v1/chat/completions":
            _no_stream(payload)
            call = await prepare_chat(
                dump_json(payload), payload, settings, self.fetch_client, self.decode_slots
            )
            async with slots.call():
                response = await self.upstream.chat(
                    call.raw, record, unit.endpoint, False, call.affinity
                )
            if call.forced is not None:
                response = call.forced.respond(response)
            return _parsed(response)
        if unit.endpoint == "/v1/responses":
            _no_stream(payload)
            prepared = await prepare_responses(
                payload, settings, self.fetch_client, self.decode_slots
            )
            async with slots.call():
                response = await self.upstream.chat(
                    prepared.raw,
                    record,
                    unit.endpoint,
                    False,
                    prepared.affinity,
                    post="/v1/responses",
                    end=RESPONSES_END,
                )
            return _parsed(response)
        return 200, await self._extract(unit, payload, record, slots)

    async def _extract(
        self, unit: Unit, payload: dict[str, Any], record: RequestRecord, slots: CallSlots
    ) -> dict[str, Any]:
        version = payload.get("schema_version")
        spec = await pipeline.find_schema(
            self.schemas,
            unit.endpoint.removeprefix(EXTRACT_PREFIX),
            version if isinstance(version, int) and not isinstance(version, bool) else None,
            param="schema_version",
        )
        settings = self.settings
        ctx = pipeline.Context(
            settings=settings,
            upstream=self.upstream,
            record=record,
            render_pool=self.render_pool,
            decode_slots=self.decode_slots,
            fetch_client=self.fetch_client,
            calls=slots,
            schemas=self.schemas,
            ocr_pool=self.ocr_pool,
        )

        def crops_for(req: ExtractRequest) -> int:
            return caps.num_crops(req.num_crops, spec.num_crops, settings, "num_crops")

        req, source = await load_extract_fields(ctx, ExtractRequest, payload, None, crops_for)
        result = await pipeline.extract(ctx, spec, req, source, crops_for(req))
        return dict(json.loads(result.model_dump_json(by_alias=True)))


def _parsed(response: Response) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) of a plain upstream answer (a vLLM 4xx passes through as is)."""
    body = json.loads(bytes(response.body))
    return response.status_code, body if isinstance(body, dict) else {"value": body}
