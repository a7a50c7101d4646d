"""``POST /v1/responses``: the OpenAI Responses API, stateless, in front of vLLM's.

routes.py   the route (a plain Starlette route, like chat's) and its OpenAPI entry
checks.py   chat's caps, schema guard and image path on a Responses body; store forced off
"""

from .checks import RESPONSE_ROLES, check_responses_request
from .routes import OPENAPI_PATHS, router

__all__ = ["RESPONSE_ROLES", "check_responses_request", "OPENAPI_PATHS", "router"]
