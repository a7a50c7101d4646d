"""`SchemaRegistry`: built-in and registered schemas by name and version, cached like keys.

The pipeline's `SchemaSource` for the gateway. A built-in is found at once; a registered
kind is read from the store (`store.SchemaStore`) and its `CustomSpec` built once per
stored version. Every read is reused for ``ttl`` seconds (the key cache's, at most 0.5 s), so
a schema created or changed through one replica is served by every replica within a second,
with no message between them; the replica that wrote it forgets its entry at once.

    registry = SchemaRegistry(schema_store_for(keys), ttl=0.5)
    spec = await registry.get("bill_of_lading")           # the latest version
    spec = await registry.get("bill_of_lading", 1)        # pinned
"""

from __future__ import annotations

import time
from typing import Any

from schemas import SchemaSpec, names

from ..auth.backend import KeyStoreUnavailable
from ..errors import ErrorCode, GatewayError
from ..pipeline.lookup import BUILTINS, unknown_version
from .definition import CustomSpec, build_spec
from .store import SchemaStore, StoredSchema

__all__ = ["SchemaRegistry", "store_unreachable"]

_SPECS_MAX = 1024


def store_unreachable(exc: Exception) -> GatewayError:
    return GatewayError(
        503,
        f"registered schemas cannot be read now ({exc}); retry shortly",
        type="service_unavailable",
        code=ErrorCode.KEY_STORE_UNAVAILABLE,
        headers={"Retry-After": "1"},
    )


class SchemaRegistry:
    """Built-ins, then the store; see the module docstring."""

    def __init__(self, store: SchemaStore | None, ttl: float = 0.5) -> None:
        self.store = store
        self.ttl = ttl
        self._reads: dict[tuple[str, int | None], tuple[float, StoredSchema | None]] = {}
        self._listing: tuple[float, list[StoredSchema]] | None = None
        self._specs: dict[tuple[str, int, float], CustomSpec] = {}

    def forget(self, name: str | None = None) -> None:
        """Drop cached reads (of ``name``, or all): this replica just changed it."""
        self._listing = None
        if name is None:
            self._reads.clear()
        else:
            self._reads = {k: v for k, v in self._reads.items() if k[0] != name}

    async def stored(self, name: str, version: int | None = None) -> StoredSchema | None:
        """The stored record (latest or ``version``), read at most every ``ttl`` seconds."""
        if self.store is None:
            return None
        now = time.monotonic()
        hit = self._reads.get((name, version))
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            found = await self.store.get(name, version)
        except KeyStoreUnavailable as exc:
            raise store_unreachable(exc) from None
        if len(self._reads) > _SPECS_MAX:
            self._reads.clear()
        self._reads[(name, version)] = (now + self.ttl, found)
        return found

    def spec_of(self, stored: StoredSchema) -> CustomSpec:
        key = (stored.name, stored.version, stored.created_at)
        spec = self._specs.get(key)
        if spec is None:
            if len(self._specs) > _SPECS_MAX:
                self._specs.clear()
            spec = self._specs[key] = build_spec(stored.definition, stored.version)
        return spec

    async def get(
        self, name: str, version: int | None = None, param: str | None = None
    ) -> SchemaSpec[Any]:
        if name in names() or self.store is None:
            return await BUILTINS.get(name, version, param)
        stored = await self.stored(name, version)
        if stored is not None:
            return self.spec_of(stored)
        if version is not None and await self.stored(name) is not None:
            raise unknown_version(name, version, param)
        custom = [s.name for s in await self.custom()]
        known = ", ".join([*names(), *custom])
        raise GatewayError(
            404,
            f"unknown schema {name!r}; known schemas: {known}",
            param=param,
            code=ErrorCode.UNKNOWN_SCHEMA,
        )

    async def custom(self) -> list[StoredSchema]:
        """The latest version of every registered schema (cached for ``ttl``)."""
        if self.store is None:
            return []
        now = time.monotonic()
        if self._listing is not None and self._listing[0] > now:
            return self._listing[1]
        try:
            listing = await self.store.latest_all()
        except KeyStoreUnavailable as exc:
            raise store_unreachable(exc) from None
        self._listing = (now + self.ttl, listing)
        return listing
