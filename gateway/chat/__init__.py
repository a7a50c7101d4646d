"""``POST /v1/chat/completions`` and ``GET /v1/models``: the OpenAI proxy.

routes.py        the routes (chat is a plain Starlette route: the hot path)
validation.py    what the gateway guarantees about a chat body (request validation)
tools.py         forced function calls: guided decoding of the function, answered as a call
prepare.py       a body made ready for the engine (checks, images, tools): route and batch
"""

from .prepare import PreparedChat, prepare_chat
from .routes import OPENAPI_PATHS, router
from .tools import ForcedTool, force_tool_call
from .validation import ROLES, validate_chat_request

__all__ = [
    "ROLES",
    "validate_chat_request",
    "PreparedChat",
    "prepare_chat",
    "OPENAPI_PATHS",
    "router",
    "ForcedTool",
    "force_tool_call",
]
