"""``POST /v1/chat/completions`` and ``GET /v1/models``: the OpenAI proxy.

routes.py        the routes (chat is a plain Starlette route: the hot path)
checks.py        what the gateway guarantees about a chat body
tools.py         forced function calls: guided decoding of the function, answered as a call
prepare.py       a body made ready for the engine (checks, images, tools): route and batch
"""

from .checks import ROLES, check_chat_request
from .prepare import PreparedChat, prepare_chat
from .routes import OPENAPI_PATHS, router
from .tools import ForcedTool, force_tool_call

__all__ = [
    "ROLES",
    "check_chat_request",
    "PreparedChat",
    "prepare_chat",
    "OPENAPI_PATHS",
    "router",
    "ForcedTool",
    "force_tool_call",
]
