"""``POST /v1/responses``: the OpenAI Responses API, stateless, in front of vLLM's.

routes.py       the route (a plain Starlette route, like chat's) and its OpenAPI entry
validation.py   chat's caps, schema guard and image path on a Responses body; store forced off
"""

from .routes import OPENAPI_PATHS, router
from .validation import RESPONSE_ROLES, validate_responses_request

__all__ = ["RESPONSE_ROLES", "validate_responses_request", "OPENAPI_PATHS", "router"]
