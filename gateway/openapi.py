"""What the OpenAPI document says about failures and keys, so a generated client knows both.

Every failure is the same envelope (``errors.error_body``), so one schema, ``ErrorResponse``,
describes them all. Routes list the statuses they can answer with ``error_responses(...)``
(FastAPI routes: ``responses=``; the plain Starlette routes, chat and Responses, get their
whole entry from ``generating_operation``), built from the groups below:

    @router.get("/v1/schemas", responses=error_responses(*KEYED))
    OPENAPI_PATHS = generating_operation("/v1/responses", "create_response", summary,
                                         ResponsesRequest, answer)

The body models of those two routes (``chat.protocol``, ``responses.protocol``) are ``OPEN``
and only documented, never validated into: ``generating_operation`` remembers their schemas,
and ``finish_document`` adds them to the document's components.

``finish_document`` then fixes what FastAPI adds on its own: a ``422 HTTPValidationError`` on
every route with parameters, though the gateway answers validation failures with a 400
envelope (``errors._validation_error``).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .auth.admission import SECURITY_DOC

__all__ = [
    "OPEN",
    "ErrorInfo",
    "ErrorResponse",
    "KEYED",
    "BODY",
    "UPSTREAM",
    "GENERATING",
    "STATUS_MEANING",
    "error_responses",
    "error_docs",
    "generating_operation",
    "finish_document",
]

STATUS_MEANING: dict[int, str] = {
    400: "The body or a parameter is invalid; `error.param` names it.",
    401: "No key, or the key is unknown, revoked or expired.",
    403: "The key lacks the scope this route needs.",
    404: "No such schema (or file, or batch: another key's is not found either).",
    409: "The schema name is a built-in's, or is registered already.",
    413: "The request body is larger than the gateway accepts.",
    422: "Too many images, or (extraction) an answer that is cut off or fails validation.",
    429: "The key's rate or concurrency limit is reached; see `Retry-After`.",
    502: "The model server answered with something that is not a valid answer.",
    503: "No model server is reachable, or the key store or shared limiter is down "
    "(`key_store_unavailable`, `limiter_unavailable`).",
    504: "The model server did not answer in time.",
    501: "The Files and Batch API on a PostgreSQL key store (not built yet).",
}

KEYED = (401, 403, 429, 503)
"""Any route behind ``auth.admit``: missing/bad key, missing scope, limits, and the key store
(PostgreSQL) or the shared limiter (Redis) being unreachable."""
BODY = (400, 413, 422)
"""Any route that reads and checks a request body."""
UPSTREAM = (502, 503, 504)
"""Any route that forwards to vLLM."""
GENERATING = (*BODY, *KEYED, *UPSTREAM)
"""Chat, Responses and extraction: all of the above."""

_COMPONENTS = "#/components/schemas/{model}"
_REF = _COMPONENTS.format(model="ErrorResponse")
_BODY_SCHEMAS: dict[str, dict[str, Any]] = {}
"""The components of the plain routes' body models, filled by ``generating_operation`` when
their modules are imported."""

OPEN = ConfigDict(extra="allow")
"""A documented request model that lets any other field through, as the proxy does."""


class ErrorInfo(BaseModel):
    """The fields OpenAI clients read from an error."""

    message: str = Field(description="Why the request failed, naming the field or limit.")
    type: str = Field(description="The kind of error, e.g. `invalid_request_error`.")
    param: str | None = Field(description="The request field at fault, if one is.")
    code: str | None = Field(description="A stable machine-readable code (docs/gateway.md).")
    details: dict[str, Any] | None = Field(
        default=None, description="Extra facts (a failed extraction's raw output and usage)."
    )


class ErrorResponse(BaseModel):
    """Every non-2xx answer of the gateway."""

    error: ErrorInfo


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a FastAPI route that can fail with ``statuses``."""
    return {s: {"model": ErrorResponse, "description": STATUS_MEANING[s]} for s in statuses}


def error_docs(*statuses: int) -> dict[str, dict[str, Any]]:
    """The same, as raw OpenAPI for a hand-written operation (``finish_document`` adds the
    schema it refers to)."""
    return {
        str(s): {
            "description": STATUS_MEANING[s],
            "content": {"application/json": {"schema": {"$ref": _REF}}},
        }
        for s in statuses
    }


def generating_operation(
    path: str, operation_id: str, summary: str, body: type[BaseModel], answer: str
) -> dict[str, Any]:
    """The hand-written OpenAPI entry of a plain Starlette route that generates (chat,
    Responses): a JSON body typed by ``body`` (a component of that name), the bearer key, a
    JSON or event-stream answer, and every status of ``GENERATING`` plus 404 (vLLM's answer
    for an unknown model, passed on)."""
    schema = body.model_json_schema(ref_template=_COMPONENTS)
    _BODY_SCHEMAS.update(schema.pop("$defs", {}))
    _BODY_SCHEMAS[body.__name__] = schema
    ref = {"$ref": _COMPONENTS.format(model=body.__name__)}
    return {
        path: {
            "post": {
                "tags": ["openai"],
                "summary": summary,
                "operationId": operation_id,
                **SECURITY_DOC,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": ref}},
                },
                "responses": {
                    "200": {
                        "description": answer,
                        "content": {"application/json": {}, "text/event-stream": {}},
                    },
                    **error_docs(*GENERATING, 404),
                },
            }
        }
    }


def finish_document(document: dict[str, Any]) -> dict[str, Any]:
    """Drop FastAPI's own 422 validation entries, and add ``ErrorResponse`` and the plain
    routes' body models that the paths refer to."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            entry = responses.get("422", {})
            schema = entry.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    if "/HTTPValidationError" not in json.dumps(document.get("paths", {})):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    model = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(model.pop("$defs", {}))
    schemas.setdefault("ErrorResponse", model)
    for name, body in _BODY_SCHEMAS.items():
        schemas.setdefault(name, body)
    return document
