"""``GET /v1/me``: what the calling key may do, asked with the key itself.

A client (the playground page, a CLI, a monitoring probe) needs to know before it sends an
image whether its key can chat, extract, or neither, and under which limits. Guessing from a
refused request costs an upload and reads as an error; this answers directly. It is an
ordinary key-authenticated route: a wrong, revoked or expired key gets the same 401 as on
every other route, and the call counts against the key's rate limit like any other. It shows
only the key's own record, never the hash and never another key.

    curl -s $OPENAI_BASE_URL/me -H "Authorization: Bearer $OPENAI_API_KEY"
    {"object": "api_key", "name": "dev", "prefix": "sk-AbCdEfGhI", "scopes": ["chat", "extract"],
     "rpm": null, "max_concurrent": null, "expires_at": null, "created_at": 1795768506.1}
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from ..openapi import error_responses
from .admission import require_scope
from .keys import KeyRecord

__all__ = ["router", "KeyInfo"]

router = APIRouter(tags=["keys"])
OwnKey = Annotated[KeyRecord, Depends(require_scope(None))]


class KeyInfo(BaseModel):
    """The calling key's own record, without its hash."""

    object: Literal["api_key"] = "api_key"
    name: str = Field(description="The name the key was created with.")
    prefix: str = Field(description="The key's first characters, as `keys list` shows them.")
    scopes: list[str] = Field(description="What the key may call: `chat`, `extract`.")
    rpm: int | None = Field(description="Requests per minute; null means no limit.")
    max_concurrent: int | None = Field(description="Requests in flight; null means no limit.")
    expires_at: float | None = Field(description="Unix time the key stops working, or null.")
    created_at: float = Field(description="Unix time the key was created.")


@router.get(
    "/v1/me",
    response_model=KeyInfo,
    summary="The calling key's scopes and limits",
    responses=error_responses(401, 429, 503),
)
async def me(key: OwnKey) -> KeyInfo:
    return KeyInfo(
        name=key.name,
        prefix=key.prefix,
        scopes=sorted(key.scopes),
        rpm=key.rpm,
        max_concurrent=key.max_concurrent,
        expires_at=key.expires_at,
        created_at=key.created_at,
    )
