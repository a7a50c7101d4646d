"""Who is calling and how much they may do: the key store, the per-key limits, admission.

keys.py        KeyStore (SQLite, hashed keys, scopes, limits, revocation)
limits.py      KeyLimiter: rpm and requests in flight per key, per process
admission.py   Authenticator, the key cache, ``admit`` and the FastAPI dependencies
routes.py      ``GET /v1/me``: the calling key's own scopes and limits
"""

from .admission import (
    SECURITY_DOC,
    SECURITY_SCHEMES,
    Authenticator,
    ChatKey,
    ExtractKey,
    KeyCache,
    admit,
    require_scope,
)
from .keys import KEY_PATTERN, KeyRecord, KeyStore, KeyStoreError, hash_key
from .limits import KeyLimiter
from .routes import KeyInfo, router

__all__ = [
    "SECURITY_DOC",
    "SECURITY_SCHEMES",
    "Authenticator",
    "ChatKey",
    "ExtractKey",
    "KeyCache",
    "admit",
    "require_scope",
    "KEY_PATTERN",
    "KeyRecord",
    "KeyStore",
    "KeyStoreError",
    "hash_key",
    "KeyLimiter",
    "KeyInfo",
    "router",
]
