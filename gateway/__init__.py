"""The gateway: the only service users reach, in front of the vLLM OpenAI server.

Public surface (see each module's docstring):

    create_app(settings) -> FastAPI        Settings (env prefix GATEWAY_)
    GatewayError, error_body, error_response          OpenAI-shaped errors
    validate_image_url(url, settings, fetch_client, param=...) -> data URL
    require_scope("chat" | "extract")      FastAPI dependency: key, scope, limits
    admit(request, scope)                  the same check, called from a plain route
    KeyStore                               SQLite store of hashed API keys
"""

from .app import create_app
from .auth import admit, require_scope
from .errors import GatewayError, error_body, error_response
from .images import validate_image_url
from .keys import KeyRecord, KeyStore
from .settings import Settings

__all__ = [
    "create_app",
    "Settings",
    "GatewayError",
    "error_body",
    "error_response",
    "validate_image_url",
    "require_scope",
    "admit",
    "KeyStore",
    "KeyRecord",
]
