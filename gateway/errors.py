"""OpenAI-shaped errors: every non-2xx answer is ``{"error": {message, type, param, code}}``.

The openai SDK reads ``error.message`` into its exception text, so a client sees *why* a request
failed, whichever layer refused it. Raise ``GatewayError`` anywhere (a dependency, the proxy, the
image checker, a future /v1/extract router); ``install_error_handlers`` turns it, FastAPI's
validation errors, 404/405 and any unexpected exception into that shape. A 500 carries no stack
trace: the trace goes to the server log only.

    raise GatewayError(400, "messages must be a non-empty list", param="messages")
    raise GatewayError(429, "rate limit exceeded", type="rate_limit_error",
                       headers={"Retry-After": "3"})
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

__all__ = [
    "GatewayError",
    "error_body",
    "error_response",
    "install_error_handlers",
    "TYPE_FOR_STATUS",
]

log = logging.getLogger("gateway.errors")

TYPE_FOR_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "internal_error",
    502: "upstream_error",
    503: "upstream_unavailable",
    504: "upstream_timeout",
}


class GatewayError(Exception):
    """An error meant for the client; carries status, OpenAI error fields and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or TYPE_FOR_STATUS.get(status, "invalid_request_error")
        self.param = param
        self.code = code
        self.headers = headers
        self.details = details

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.param, self.code, self.details)

    def response(self) -> Response:
        return error_response(
            self.status,
            self.message,
            type=self.type,
            param=self.param,
            code=self.code,
            headers=self.headers,
            details=self.details,
        )


def error_body(
    message: str,
    type: str,
    param: str | None = None,
    code: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON object OpenAI clients expect for an error. ``details`` (optional) carries
    what a client needs to act on it, such as the raw model output of a failed extraction;
    OpenAI clients ignore keys they do not know."""
    error: dict[str, Any] = {"message": message, "type": type, "param": param, "code": code}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(
    status: int,
    message: str,
    *,
    type: str | None = None,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> Response:
    """A ready ``Response`` with the OpenAI error body."""
    kind = type or TYPE_FOR_STATUS.get(status, "error")
    body = error_body(message, kind, param, code, details)
    return Response(
        json.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def _loc_to_param(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text


async def _gateway_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return exc.response()


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    messages = {404: "no such route", 405: "method not allowed on this route"}
    message = messages.get(exc.status_code, str(exc.detail))
    return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    param = _loc_to_param(first.get("loc", ()))
    message = f"{param}: {first.get('msg')}" if param else str(first.get("msg"))
    return error_response(400, message, param=param or None)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    return error_response(500, "internal error in the gateway", type="internal_error")


def install_error_handlers(app: FastAPI) -> None:
    """Route every kind of failure to the OpenAI error shape."""
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
