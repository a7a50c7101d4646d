"""``GET /playground`` and its assets, each sent with a strict Content-Security-Policy.

The page and its scripts are files in ``static/``, read once at import and served from
memory by name: a fixed table, so no request path ever reaches the file system. Nothing in
them is inline and nothing is remote, so the policy allows scripts, styles and requests from
this origin only, images from this origin or ``blob:`` (the preview of a file the user picked),
and nothing else. ``require-trusted-types-for 'script'`` with no policy allowed makes any
HTML string sink (``innerHTML`` and friends) throw: the scripts build every element with DOM
calls, so a model's answer can never become markup.

The page needs no key to load and carries no data: it is a client of the public API like
curl or the SDK, and holds the key only in the tab's ``sessionStorage``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import Response

from ..errors import ErrorCode, GatewayError

__all__ = ["router", "CONTENT_SECURITY_POLICY", "ASSETS", "SECURITY_HEADERS"]

STATIC = Path(__file__).parent / "static"
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    )
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    # A new gateway version must not run with an old cached script: revalidate each load.
    "Cache-Control": "no-cache",
}
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


def _load(folder: Path) -> dict[str, tuple[bytes, str]]:
    return {
        path.name: (path.read_bytes(), _MEDIA_TYPES[path.suffix])
        for path in sorted(folder.iterdir())
        if path.suffix in _MEDIA_TYPES
    }


ASSETS: dict[str, tuple[bytes, str]] = _load(STATIC)
"""File name → (bytes, media type) for everything in ``static/``."""

router = APIRouter(tags=["playground"], include_in_schema=False)


def _send(name: str) -> Response:
    body, media_type = ASSETS[name]
    return Response(body, media_type=media_type, headers=SECURITY_HEADERS)


@router.get("/playground")
async def page() -> Response:
    return _send("index.html")


@router.get("/playground/static/{name}")
async def asset(name: str) -> Response:
    if name not in ASSETS or name == "index.html":
        raise GatewayError(404, f"no playground asset named {name!r}", code=ErrorCode.NOT_FOUND)
    return _send(name)
