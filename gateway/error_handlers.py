"""The exception handlers: every failure answered in the OpenAI error shape, and recorded.

``install_error_handlers(app)`` routes ``GatewayError`` (``gateway.errors``), FastAPI's
validation errors, Starlette's 404/405 and any unexpected exception to
``{"error": {message, type, param, code}}``. A 500 carries no stack trace: the trace goes to the
server log only.

The handlers are also the one place where a failure is *recorded*: the code goes on the
request's ``RequestRecord`` (so the access log line has ``error_code``) and image refusals are
counted in ``gateway_images_rejected``. Routes never record errors themselves.

    app = FastAPI()
    install_error_handlers(app)
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from .errors import ErrorCode, GatewayError
from .record import record_of

__all__ = ["install_error_handlers", "validation_error"]

log = logging.getLogger("gateway.errors")


def _loc_to_param(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text


def _answer(request: Request, exc: GatewayError) -> Response:
    """Record the failure on the request, then answer it: the one place for both."""
    record_of(request).error_code = exc.code
    if exc.code.is_image_refusal:
        request.app.state.metrics.images_rejected.labels(reason=exc.code.value).inc()
    return exc.response()


async def _gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return _answer(request, exc)


_HTTP_CODES = {
    404: (ErrorCode.NOT_FOUND, "no such route"),
    405: (ErrorCode.METHOD_NOT_ALLOWED, "method not allowed on this route"),
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, (ErrorCode.INVALID_VALUE, str(exc.detail)))
    error = GatewayError(exc.status_code, message, code=code, headers=getattr(exc, "headers", None))
    return _answer(request, error)


def validation_error(exc: RequestValidationError) -> GatewayError:
    """A validation failure as the gateway's 400 naming the first bad field (the routes'
    handler and the batch workers answer it alike)."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    param = _loc_to_param(first.get("loc", ()))
    message = f"{param}: {first.get('msg')}" if param else str(first.get("msg"))
    return GatewayError(400, message, param=param or None, code=ErrorCode.INVALID_VALUE)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return _answer(request, validation_error(exc))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    error = GatewayError(
        500, "internal error in the gateway", type="internal_error", code=ErrorCode.INTERNAL_ERROR
    )
    return _answer(request, error)


def install_error_handlers(app: FastAPI) -> None:
    """Route every kind of failure to the OpenAI error shape, and record it."""
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
