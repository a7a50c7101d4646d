"""The playground: a page served by the gateway for trying the stack in a browser.

``GET /playground`` loads it without a key; everything it then does goes through the public
API with the key the user pastes (see ``routes``). The page is plain HTML, CSS and JavaScript
modules in ``static/``: no build step, nothing fetched from anywhere but this gateway.
"""

from .routes import CONTENT_SECURITY_POLICY, router

__all__ = ["router", "CONTENT_SECURITY_POLICY"]
