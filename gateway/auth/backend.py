"""What every key store is: ``KeyBackend`` (the one interface) and ``KeyStoreUnavailable``.

Its own module so that the implementations (``store.SqliteKeys``, ``postgres.PostgresKeys``)
import it, and ``store.open_key_store`` imports them, without importing each other.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Protocol

from .keys import KeyRecord

__all__ = ["KeyBackend", "KeyStoreUnavailable"]


class KeyStoreUnavailable(Exception):
    """The key database cannot be reached (down, restarting, network, pool exhausted)."""


class KeyBackend(Protocol):
    """What the gateway and the ``keys`` CLI need from a key store."""

    async def lookup(self, key: str) -> KeyRecord | None:
        """The record for ``key`` (active or not), or None if no stored key matches."""
        ...

    async def create(
        self,
        name: str,
        *,
        scopes: Iterable[str] = ("chat", "extract"),
        rpm: int | None = None,
        max_concurrent: int | None = None,
        expires_at: float | None = None,
    ) -> str:
        """Create a key and return it: the only time the full key exists."""
        ...

    async def list(self) -> list[KeyRecord]: ...

    async def revoke(self, name_or_prefix: str) -> KeyRecord:
        """Revoke the active key with this name, or the key with this prefix."""
        ...

    async def set_webhook_secret(self, name_or_prefix: str, secret: str | None) -> KeyRecord:
        """Give the active key (name) or the key (prefix) its own webhook signing secret
        (``whsec_…``, stored as is: it must sign), replacing any; None removes it."""
        ...

    async def webhook_secret(self, prefix: str) -> str | None:
        """The key's own webhook signing secret, or None."""
        ...

    async def migrate(self) -> builtins.list[int]:
        """Apply pending schema versions; the versions applied now."""
        ...

    async def schema_version(self) -> tuple[int, int]:
        """(applied, newest known) schema versions."""
        ...

    async def close(self) -> None: ...
