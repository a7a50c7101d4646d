"""Who is calling: bearer key → ``KeyRecord``, scope check, rpm and concurrency limits.

Lookups go through a short TTL cache (``settings.key_cache_ttl_s``, at most 1 s) in front of
SQLite, so a revocation made by ``python -m gateway keys revoke`` reaches every worker within
that time without a restart, while the hot path does no database read most of the time.

The chat route (a plain Starlette route, the hot path) calls ``admit(request, "chat")``
itself; FastAPI routes declare the same check as a typed dependency:

    @router.get("/v1/schemas")
    async def list_schemas(key: ExtractKey) -> SchemaList: ...
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..errors import ErrorCode, GatewayError
from ..record import record_of
from .keys import KEY_PATTERN, KeyRecord, KeyStore, hash_key
from .limits import KeyLimiter

__all__ = [
    "admit",
    "Authenticator",
    "KeyCache",
    "require_scope",
    "ChatKey",
    "ExtractKey",
    "SECURITY_DOC",
    "SECURITY_SCHEMES",
]

# How /docs shows the key ("Authorize" button). Routes that take the key through
# ``require_scope`` (ChatKey, ExtractKey) declare it with it; the plain Starlette routes (chat,
# responses: the hot path, no dependency solving) and /metrics carry ``SECURITY_DOC`` in their
# OpenAPI entry. The checking itself is ``Authenticator``'s.
SECURITY_DOC: dict[str, Any] = {"security": [{"GatewayKey": []}]}
SECURITY_SCHEMES: dict[str, Any] = {
    "GatewayKey": {"type": "http", "scheme": "bearer", "description": "A gateway key: `sk-…`"}
}

_CACHE_MAX = 10_000
_WWW = {"WWW-Authenticate": "Bearer"}


class KeyCache:
    """Memoises ``KeyStore.lookup`` for ``ttl`` seconds, misses included (bounded size)."""

    def __init__(self, store: KeyStore, ttl: float) -> None:
        self.store = store
        self.ttl = ttl
        self._entries: dict[str, tuple[float, KeyRecord | None]] = {}

    def lookup(self, key: str) -> KeyRecord | None:
        now = time.monotonic()
        digest = hash_key(key)
        hit = self._entries.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        record = self.store.lookup(key)
        if self.ttl > 0:
            if len(self._entries) >= _CACHE_MAX:
                self._entries.clear()
            self._entries[digest] = (now + self.ttl, record)
        return record


class Authenticator:
    """Turns an ``Authorization`` header into an active ``KeyRecord`` or a 401/403/429."""

    def __init__(self, cache: KeyCache, limiter: KeyLimiter) -> None:
        self.cache = cache
        self.limiter = limiter

    def authenticate(self, authorization: str | None) -> KeyRecord:
        if not authorization:
            raise GatewayError(
                401,
                "missing API key: send 'Authorization: Bearer sk-...'",
                code=ErrorCode.MISSING_API_KEY,
                headers=_WWW,
            )
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not KEY_PATTERN.fullmatch(key):
            raise GatewayError(
                401,
                "malformed API key: expected 'Authorization: Bearer sk-...'",
                code=ErrorCode.INVALID_API_KEY,
                headers=_WWW,
            )
        record = self.cache.lookup(key)
        if record is None:
            raise GatewayError(401, "unknown API key", code=ErrorCode.INVALID_API_KEY, headers=_WWW)
        if record.revoked_at is not None:
            raise GatewayError(401, "API key revoked", code=ErrorCode.REVOKED_API_KEY, headers=_WWW)
        if not record.is_active():
            raise GatewayError(401, "API key expired", code=ErrorCode.EXPIRED_API_KEY, headers=_WWW)
        return record

    @staticmethod
    def authorize(record: KeyRecord, scope: str) -> None:
        if scope not in record.scopes:
            raise GatewayError(
                403, f"this API key lacks the '{scope}' scope", code=ErrorCode.MISSING_SCOPE
            )


def admit(request: Request, scope: str | None) -> KeyRecord:
    """A valid key (with ``scope`` unless None), counted against its limits.

    The in-flight slot (a ``Lease``) is held by the request's ``RequestRecord``;
    ``RequestObserver`` releases it once the last byte of the response has gone out, streams
    included, or the request failed. (A ``yield`` dependency would release it before a
    stream has finished.)
    """
    auth: Authenticator = request.app.state.auth
    key = auth.authenticate(request.headers.get("authorization"))
    record = record_of(request)
    record.key_name = key.name
    if scope is not None:
        auth.authorize(key, scope)
    auth.limiter.check_rate(key.name, key.rpm)
    record.hold(auth.limiter.acquire(key.name, key.max_concurrent))
    return key


_BEARER = HTTPBearer(auto_error=False, scheme_name="GatewayKey")
"""Only declares the key in the OpenAPI document of the routes that use ``require_scope``;
``Authenticator`` does the checking (``auto_error=False``: no refusal of its own)."""


def require_scope(scope: str | None) -> Callable[..., Awaitable[KeyRecord]]:
    """``admit`` as a FastAPI dependency, for routes that take typed parameters; the OpenAPI
    document shows each such route as needing the bearer key."""

    async def dependency(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    ) -> KeyRecord:
        return admit(request, scope)

    return dependency


ChatKey = Annotated[KeyRecord, Depends(require_scope("chat"))]
ExtractKey = Annotated[KeyRecord, Depends(require_scope("extract"))]
