"""OpenAI-shaped errors: every non-2xx answer is ``{"error": {message, type, param, code}}``.

The openai SDK reads ``error.message`` into its exception text, so a client sees *why* a request
failed, whichever layer refused it. Raise ``GatewayError`` anywhere (a dependency, a route, the
image checker, a render worker process); ``gateway.error_handlers`` turns it, FastAPI's
validation errors, 404/405 and any unexpected exception into that shape, and records it.

This module imports no web framework: a render worker raises ``DocumentError`` (a
``GatewayError``) without loading FastAPI or Starlette, and ``GatewayError.response()`` imports
Starlette only when an HTTP answer is actually built.

Every code the gateway sends is a member of ``ErrorCode`` (documented in docs/gateway.md):

    raise GatewayError(400, "messages: must be a non-empty list", param="messages",
                       code=ErrorCode.INVALID_VALUE)
    raise GatewayError(429, "rate limit exceeded", code=ErrorCode.RATE_LIMIT_EXCEEDED,
                       headers={"Retry-After": "3"})
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.responses import Response

__all__ = [
    "ErrorCode",
    "GatewayError",
    "error_body",
    "json_error",
    "TYPE_FOR_STATUS",
]


class ErrorCode(StrEnum):
    """Every ``error.code`` the gateway sends. Values are part of the API: never rename one."""

    # keys and limits
    MISSING_API_KEY = "missing_api_key"
    INVALID_API_KEY = "invalid_api_key"
    REVOKED_API_KEY = "revoked_api_key"
    EXPIRED_API_KEY = "expired_api_key"
    MISSING_SCOPE = "missing_scope"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    CONCURRENCY_LIMIT_EXCEEDED = "concurrency_limit_exceeded"
    KEY_STORE_UNAVAILABLE = "key_store_unavailable"
    LIMITER_UNAVAILABLE = "limiter_unavailable"
    # the request itself
    BODY_TOO_LARGE = "body_too_large"
    INVALID_JSON = "invalid_json"
    INVALID_VALUE = "invalid_value"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNKNOWN_SCHEMA = "unknown_schema"
    DATA_INVALID = "data_invalid"
    SCHEMA_INVALID = "schema_invalid"
    SCHEMA_TOO_LARGE = "schema_too_large"
    SCHEMA_TOO_DEEP = "schema_too_deep"
    SCHEMA_UNSUPPORTED_KEYWORD = "schema_unsupported_keyword"
    SCHEMA_UNBOUNDED = "schema_unbounded"
    SCHEMA_EXISTS = "schema_exists"
    SCHEMA_BUILTIN = "schema_builtin"
    SCHEMA_IN_USE = "schema_in_use"
    UNKNOWN_SCHEMA_VERSION = "unknown_schema_version"
    INVALID_CHECK = "invalid_check"
    UNKNOWN_CHECK_TYPE = "unknown_check_type"
    UNKNOWN_IDENTIFIER_FORMAT = "unknown_identifier_format"
    INVALID_EXPRESSION = "invalid_expression"
    NONLINEAR_EXPRESSION = "nonlinear_expression"
    UNSUPPORTED_PARAMETER = "unsupported_parameter"
    FILE_TOO_LARGE = "file_too_large"
    BATCH_UNAVAILABLE = "batch_unavailable"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    JOB_CANCELLED = "job_cancelled"
    KEY_REVOKED = "key_revoked"
    WEBHOOKS_NOT_CONFIGURED = "webhooks_not_configured"
    WEBHOOK_URL_REFUSED = "webhook_url_refused"
    TOOL_CHOICE_UNSUPPORTED = "tool_choice_unsupported"
    # images (each is also a ``reason`` of gateway_images_rejected)
    TOO_MANY_IMAGES = "too_many_images"
    IMAGE_MISSING = "image_missing"
    IMAGE_BAD_URL = "image_bad_url"
    IMAGE_BAD_DATA_URL = "image_bad_data_url"
    IMAGE_BAD_BASE64 = "image_bad_base64"
    IMAGE_NOT_AN_IMAGE = "image_not_an_image"
    IMAGE_UNSUPPORTED_FORMAT = "image_unsupported_format"
    IMAGE_TOO_LARGE = "image_too_large"
    IMAGE_TOO_MANY_PIXELS = "image_too_many_pixels"
    IMAGE_CORRUPT = "image_corrupt"
    IMAGE_FETCH_REFUSED = "image_fetch_refused"
    IMAGE_FETCH_FAILED = "image_fetch_failed"
    # documents: PDFs and multi-page TIFFs (the extraction API renders them into pages)
    DOCUMENT_NEEDS_EXTRACTION = "document_needs_extraction"
    DOCUMENT_TOO_LARGE = "document_too_large"
    DOCUMENT_TOO_MANY_PAGES = "document_too_many_pages"
    DOCUMENT_PAGE_TOO_MANY_PIXELS = "document_page_too_many_pixels"
    DOCUMENT_RENDER_TIMEOUT = "document_render_timeout"
    DOCUMENT_RENDER_FAILED = "document_render_failed"
    DOCUMENT_ENCRYPTED = "document_encrypted"
    DOCUMENT_NO_PAGES = "document_no_pages"
    DOCUMENT_TRUNCATED = "document_truncated"
    DOCUMENT_CORRUPT = "document_corrupt"
    DOCUMENT_BAD_PAGE_SELECTION = "document_bad_page_selection"
    DOCUMENT_PAGE_OUT_OF_RANGE = "document_page_out_of_range"
    # the model's answer (extraction)
    OUTPUT_TRUNCATED = "output_truncated"
    OUTPUT_INVALID = "output_invalid"
    # the model server
    UPSTREAM_REFUSED = "upstream_refused"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    UPSTREAM_TIMEOUT = "upstream_timeout"
    UPSTREAM_MALFORMED = "upstream_malformed"
    UPSTREAM_MIDSTREAM = "upstream_midstream"
    UPSTREAM_ERROR = "upstream_error"
    # the gateway itself
    INTERNAL_ERROR = "internal_error"

    @property
    def is_image_refusal(self) -> bool:
        """Counted in ``gateway_images_rejected{reason=<code>}``."""
        return self.value.startswith("image_") or self is ErrorCode.TOO_MANY_IMAGES


TYPE_FOR_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    501: "invalid_request_error",
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
        code: ErrorCode,
        type: str | None = None,
        param: str | None = None,
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
        """The HTTP answer: ``body()`` as JSON, with the status and the extra headers."""
        return json_error(self.status, self.body(), self.headers)


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


def json_error(status: int, body: dict[str, Any], headers: dict[str, str] | None) -> Response:
    """An error body as a Starlette response (Starlette imported here, on first use)."""
    from starlette.responses import Response

    return Response(
        json.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )
