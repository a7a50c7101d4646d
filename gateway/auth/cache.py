"""The key lookups of one process, remembered briefly, and kept through a database outage.

Every lookup (misses included) is reused for ``ttl`` seconds (at most 1 s), so a revocation
reaches every worker within that time even without Redis; with Redis, ``revocation.py`` drops
the entry on every replica as soon as the key is revoked. While the key store cannot be
reached, a key seen within the last ``stale_s`` seconds keeps its last known record (so a
database restart does not stop traffic), and any other key gets a 503 that says why, never a
500. The next lookup after the database returns refreshes the entry by itself.

    cache = KeyCache(store, ttl=0.5, stale_s=300)
    record = await cache.lookup(key)      # None for an unknown key
    cache.invalidate(prefix)              # a revocation announced by another replica
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import ErrorCode, GatewayError
from .backend import KeyBackend, KeyStoreUnavailable
from .keys import KeyRecord, hash_key

__all__ = ["KeyCache", "store_unavailable"]

_CACHE_MAX = 10_000


def store_unavailable() -> GatewayError:
    return GatewayError(
        503,
        "the key store is unreachable and this API key was not seen recently; retry shortly",
        type="service_unavailable",
        code=ErrorCode.KEY_STORE_UNAVAILABLE,
        headers={"Retry-After": "1"},
    )


class KeyCache:
    """Memoises ``KeyBackend.lookup``; entries are (fresh until, usable until, record)."""

    def __init__(
        self, store: KeyBackend, ttl: float, stale_s: float = 0.0, metrics: Any | None = None
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.stale_s = max(stale_s, ttl)
        self.metrics = metrics
        self._entries: dict[str, tuple[float, float, KeyRecord | None, str]] = {}

    async def lookup(self, key: str) -> KeyRecord | None:
        now = time.monotonic()
        digest = hash_key(key)
        hit = self._entries.get(digest)
        if hit is not None and hit[0] > now:
            return hit[2]
        try:
            record = await self.store.lookup(key)
        except KeyStoreUnavailable:
            if self.metrics is not None:
                self.metrics.key_store_errors.inc()
            if hit is not None and hit[1] > now:
                return hit[2]
            raise store_unavailable() from None
        if self.stale_s > 0:
            if len(self._entries) >= _CACHE_MAX:
                self._entries.clear()
            self._entries[digest] = (now + self.ttl, now + self.stale_s, record, key[:12])
        return record

    def invalidate(self, prefix: str | None = None) -> int:
        """Forget the key with this prefix (every key when None); how many entries went."""
        if prefix is None:
            dropped = len(self._entries)
            self._entries.clear()
            return dropped
        gone = [d for d, entry in self._entries.items() if entry[3] == prefix]
        for digest in gone:
            del self._entries[digest]
        return len(gone)
