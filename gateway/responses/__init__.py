"""``POST /v1/responses``: the OpenAI Responses API, stateless, in front of vLLM's.

routes.py       the route (a plain Starlette route, like chat's) and its OpenAPI entry
validation.py   chat's caps, schema guard and image path on a Responses body; store forced off
prepare.py      a body made ready for the engine: the step the route and batch lines share
"""

from .prepare import PreparedResponse, prepare_responses
from .routes import OPENAPI_PATHS, router
from .validation import RESPONSE_ROLES, validate_responses_request

__all__ = [
    "RESPONSE_ROLES",
    "validate_responses_request",
    "OPENAPI_PATHS",
    "PreparedResponse",
    "prepare_responses",
    "router",
]
