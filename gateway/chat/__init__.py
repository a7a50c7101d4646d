"""``POST /v1/chat/completions`` and ``GET /v1/models``: the OpenAI proxy.

routes.py        the routes (chat is a plain Starlette route: the hot path)
checks.py        what the gateway guarantees about a chat body
tools.py         forced function calls: guided decoding of the function, answered as a call
"""

from .checks import ROLES, check_chat_request
from .routes import OPENAPI_PATHS, router
from .tools import ForcedTool, force_tool_call

__all__ = [
    "ROLES",
    "check_chat_request",
    "OPENAPI_PATHS",
    "router",
    "ForcedTool",
    "force_tool_call",
]
