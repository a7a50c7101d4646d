"""``POST /v1/chat/completions`` and ``GET /v1/models``: the OpenAI proxy.

routes.py        the routes (chat is a plain Starlette route: the hot path)
checks.py        what the gateway guarantees about a chat body; the image rewrite
schema_guard.py  user JSON schemas: size, depth, xgrammar-unsupported keywords
"""

from .checks import ROLES, ImagePart, check_chat_request, rewrite_images
from .routes import OPENAPI_PATHS, router
from .schema_guard import check_user_schemas

__all__ = [
    "ROLES",
    "ImagePart",
    "check_chat_request",
    "rewrite_images",
    "OPENAPI_PATHS",
    "router",
    "check_user_schemas",
]
