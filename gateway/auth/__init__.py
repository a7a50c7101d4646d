"""Who is calling and how much they may do: the key store, the per-key limits, admission.

keys.py           KeyStore (SQLite, hashed keys, scopes, limits, revocation), KeyRecord
backend.py        KeyBackend (the one interface every store implements), KeyStoreUnavailable
postgres.py       PostgresKeys: the same on PostgreSQL, for many replicas
store.py          SqliteKeys, open_key_store(file or URL)
migrations.py     versioned schemas of both stores
cache.py          KeyCache: lookups reused briefly, kept through a database outage
limits.py         KeyLimiter: rpm and requests in flight per key, per process
shared_limits.py  RedisLimiter: the same across every worker and replica (Lua, leases)
callslots.py      CallSlots: the same per-key limit on engine calls (pages, schemas)
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
    SchemasKey,
    admit,
    require_scope,
)
from .backend import KeyBackend, KeyStoreUnavailable
from .callslots import CallSlots, call_slots
from .keys import KEY_PATTERN, KeyRecord, KeyStore, KeyStoreError, hash_key
from .limits import KeyLimiter
from .routes import KeyInfo, router
from .store import open_key_store

__all__ = [
    "SECURITY_DOC",
    "SECURITY_SCHEMES",
    "Authenticator",
    "ChatKey",
    "ExtractKey",
    "SchemasKey",
    "KeyCache",
    "admit",
    "require_scope",
    "KEY_PATTERN",
    "KeyRecord",
    "KeyStore",
    "KeyStoreError",
    "hash_key",
    "KeyLimiter",
    "CallSlots",
    "call_slots",
    "KeyInfo",
    "router",
    "Access",
    "build_access",
    "run_access",
    "KeyBackend",
    "KeyStoreUnavailable",
    "open_key_store",
]
