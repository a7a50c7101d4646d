"""The gateway: the only service users reach, in front of the vLLM OpenAI server.

Public surface (see each module's docstring):

    create_app(settings) -> FastAPI        Settings (env prefix GATEWAY_)
    GatewayError, ErrorCode, error_body   OpenAI-shaped errors, every code the gateway sends
    RequestRecord, record_of(request)      what one request's log line and metrics are made of
    validate_image_url(url, settings, fetch_client, param=...) -> data URL
    require_scope("chat" | "extract")      FastAPI dependency: key, scope, limits
    await admit(request, scope)            the same check, called from a plain route
    KeyStore                               SQLite store of hashed API keys
    open_key_store(file or URL)            KeyBackend: SQLite or PostgreSQL (many replicas)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .auth import KeyRecord, KeyStore, admit, open_key_store, require_scope
    from .errors import ErrorCode, GatewayError, error_body
    from .images import validate_image_url
    from .record import RequestRecord, record_of
    from .settings import Settings

# Loaded on first use, not on ``import gateway``: a render worker process imports
# ``gateway.documents`` (and so this package) and needs none of the web app. Eager imports
# made every worker load FastAPI, aiohttp and the key stores: 1.1 s and 85 MB of RSS each,
# against 0.4 s and 48 MB without them.
_WHERE = {
    "create_app": ".app",
    "Settings": ".settings",
    "GatewayError": ".errors",
    "ErrorCode": ".errors",
    "error_body": ".errors",
    "RequestRecord": ".record",
    "record_of": ".record",
    "validate_image_url": ".images",
    "require_scope": ".auth",
    "admit": ".auth",
    "KeyStore": ".auth",
    "KeyRecord": ".auth",
    "open_key_store": ".auth",
}

__all__ = [
    "create_app",
    "Settings",
    "GatewayError",
    "ErrorCode",
    "error_body",
    "RequestRecord",
    "record_of",
    "validate_image_url",
    "require_scope",
    "admit",
    "KeyStore",
    "KeyRecord",
    "open_key_store",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'gateway' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value
