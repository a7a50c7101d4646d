"""Who is calling and how much they may do: the key store, the per-key limits, admission.

keys.py           KeyStore (SQLite, hashed keys, scopes, limits, revocation), KeyRecord
postgres.py       PostgresKeys: the same on PostgreSQL, for many replicas
store.py          KeyBackend (the one interface), SqliteKeys, open_key_store(file or URL)
migrations.py     versioned schemas of both stores
cache.py          KeyCache: lookups reused briefly, kept through a database outage
limits.py         KeyLimiter: rpm and requests in flight per key, per process
shared_limits.py  RedisLimiter: the same across every worker and replica (Lua, leases)
revocation.py     revocations announced to every replica through Redis pub/sub
admission.py      Authenticator, ``admit`` and the FastAPI dependencies
access.py         builds the store, cache and limiter from Settings; their lifespan tasks
routes.py         ``GET /v1/me``: the calling key's own scopes and limits
"""

from .access import Access, build_access, run_access
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
from .store import KeyBackend, KeyStoreUnavailable, open_key_store

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
    "Access",
    "build_access",
    "run_access",
    "KeyBackend",
    "KeyStoreUnavailable",
    "open_key_store",
]
