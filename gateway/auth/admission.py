"""Who is calling: bearer key → ``KeyRecord``, scope check, rpm and concurrency limits.

Lookups go through a short TTL cache (``cache.KeyCache``, ``settings.key_cache_ttl_s``, at
most 1 s) in front of the key store (SQLite or PostgreSQL, ``store.py``), so a revocation made
by ``python -m gateway keys revoke`` reaches every worker within that time without a restart
(with Redis, within milliseconds), while the hot path does no database read most of the time.
The limiter is the in-process ``KeyLimiter`` or, with ``GATEWAY_REDIS_URL``, the shared
``RedisLimiter``; both hand out a ``leases.Lease``.

The chat route (a plain Starlette route, the hot path) calls ``admit(request, "chat")``
itself; FastAPI routes declare the same check as a typed dependency:

    @router.get("/v1/schemas")
    async def list_schemas(key: ExtractKey) -> SchemaList: ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..errors import ErrorCode, GatewayError
from ..leases import Lease, Vacancies
from ..record import record_of
from .cache import KeyCache
from .callslots import SCOPE_KEY as CALL_SLOTS_KEY
from .callslots import slots_for
from .keys import KEY_PATTERN, KeyRecord
from .limits import KeyLimiter

__all__ = [
    "admit",
    "Authenticator",
    "KeyCache",
    "Limiter",
    "LocalLimiter",
    "require_scope",
    "ChatKey",
    "ExtractKey",
    "SchemasKey",
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

_WWW = {"WWW-Authenticate": "Bearer"}


class Limiter(Protocol):
    """Per-key limits: ``LocalLimiter`` (this process) or ``shared_limits.RedisLimiter``.

    A limit is None (unlimited) or at least 1; 0 raises ``ValueError``. ``vacancies`` is woken
    whenever a slot taken here is given back in this process (``callslots`` waits on it)."""

    vacancies: Vacancies

    async def check_rate(self, name: str, rpm: int | None) -> None: ...

    async def acquire(self, name: str, limit: int | None) -> Lease: ...

    async def admit(self, name: str, rpm: int | None, limit: int | None) -> Lease:
        """``check_rate`` then ``acquire`` (the Redis one in a single round trip)."""
        ...


class LocalLimiter:
    """The in-process ``KeyLimiter`` behind the async ``Limiter`` interface."""

    def __init__(self, limiter: KeyLimiter | None = None) -> None:
        self.limiter = limiter or KeyLimiter()
        self.vacancies = self.limiter.vacancies

    async def check_rate(self, name: str, rpm: int | None) -> None:
        self.limiter.check_rate(name, rpm)

    async def acquire(self, name: str, limit: int | None) -> Lease:
        return self.limiter.acquire(name, limit)

    async def admit(self, name: str, rpm: int | None, limit: int | None) -> Lease:
        self.limiter.check_rate(name, rpm)
        return self.limiter.acquire(name, limit)


class Authenticator:
    """Turns an ``Authorization`` header into an active ``KeyRecord`` or a 401/403/429/503."""

    def __init__(self, cache: KeyCache, limiter: Limiter | KeyLimiter) -> None:
        self.cache = cache
        self.limiter: Limiter = (
            LocalLimiter(limiter) if isinstance(limiter, KeyLimiter) else limiter
        )

    async def authenticate(self, authorization: str | None) -> KeyRecord:
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
        record = await self.cache.lookup(key)
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


async def admit(request: Request, scope: str | None) -> KeyRecord:
    """A valid key (with ``scope`` unless None), counted against its limits.

    The in-flight slot (a ``Lease``) is held by the request's ``RequestRecord``;
    ``RequestObserver`` releases it once the last byte of the response has gone out, streams
    included, or the request failed. (A ``yield`` dependency would release it before a
    stream has finished.) The same slot is the request's first engine-call slot:
    ``callslots.call_slots(request)`` gives the ``CallSlots`` left here for the pipeline.
    """
    auth: Authenticator = request.app.state.auth
    key = await auth.authenticate(request.headers.get("authorization"))
    record = record_of(request)
    record.key_name = key.name
    if scope is not None:
        auth.authorize(key, scope)
    lease = await auth.limiter.admit(key.name, key.rpm, key.max_concurrent)
    record.hold(lease)
    if key.max_concurrent is not None:
        request.scope[CALL_SLOTS_KEY] = slots_for(auth.limiter, key.name, key.max_concurrent, lease)
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
        return await admit(request, scope)

    return dependency


ChatKey = Annotated[KeyRecord, Depends(require_scope("chat"))]
ExtractKey = Annotated[KeyRecord, Depends(require_scope("extract"))]
SchemasKey = Annotated[KeyRecord, Depends(require_scope("schemas"))]
