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

from .app import create_app
from .auth import KeyRecord, KeyStore, admit, open_key_store, require_scope
from .errors import ErrorCode, GatewayError, error_body
from .images import validate_image_url
from .record import RequestRecord, record_of
from .settings import Settings

__all__ = [
    "create_app",
    "Settings",
    "GatewayError",
    "ErrorCode",
    "RequestRecord",
    "record_of",
    "error_body",
    "validate_image_url",
    "require_scope",
    "admit",
    "KeyStore",
    "KeyRecord",
    "open_key_store",
]
