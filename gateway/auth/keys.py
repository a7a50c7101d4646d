"""API keys in SQLite: only a SHA-256 of each key is stored, compared in constant time.

A key looks like ``sk-`` + 43 URL-safe characters (256 random bits). Its first 12 characters
are its *prefix*: not secret, unique, shown by ``keys list`` and used to find the row, after
which the stored hash is compared with ``hmac.compare_digest``. The full key exists only in the
output of ``keys create``.

Its schema is versioned (``migrations.py``); opening a store brings the file up to date, which
is safe for SQLite (one ``BEGIN IMMEDIATE`` transaction). The file is opened in WAL mode, so
several gateway workers (and the CLI) share it: readers never wait for a writer, and a
revocation written by the CLI is seen by the next lookup in every process. ``KeyStore`` opens
one connection per instance; use it from one thread.

    store = KeyStore(Path("gateway-keys.db"))
    key = store.create("alice", scopes=("chat",), rpm=60)   # show `key` once
    record = store.lookup(key)                               # None if unknown
    store.revoke("alice")
    store.set_webhook_secret("alice", new_webhook_secret())   # show it once, too

A key may carry its own webhook signing secret (``gateway.webhooks``), which signs its events
instead of ``GATEWAY_WEBHOOK_SECRET``. Unlike the key it is stored as is: the gateway must
sign with it, so a hash would not do (``docs/webhooks.md``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .migrations import open_sqlite

__all__ = [
    "KeyRecord",
    "KeyStore",
    "KeyStoreError",
    "KEY_PATTERN",
    "PREFIX_LEN",
    "SCOPES",
    "check_new_key",
    "hash_key",
    "new_key",
    "new_webhook_secret",
]

KEY_PATTERN = re.compile(r"sk-[A-Za-z0-9_-]{20,200}")
PREFIX_LEN = 12
SCOPES = frozenset({"chat", "extract", "schemas"})
"""``schemas``: register, change and delete document types (``/v1/schemas``); reading
and extracting with them needs ``extract``."""

_COLUMNS = "name, prefix, hash, scopes, rpm, max_concurrent, expires_at, revoked_at, created_at"


class KeyStoreError(Exception):
    """A request to the store that cannot be honoured (duplicate name, unknown key...)."""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One key as stored. ``hash`` is the SHA-256 hex digest; the key itself is never kept."""

    name: str
    prefix: str
    hash: str
    scopes: frozenset[str]
    rpm: int | None
    max_concurrent: int | None
    expires_at: float | None
    revoked_at: float | None
    created_at: float

    def is_active(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at

    @classmethod
    def from_row(cls, row: tuple[object, ...]) -> KeyRecord:
        name, prefix, digest, scopes, rpm, conc, expires, revoked, created = row
        return cls(
            name=str(name),
            prefix=str(prefix),
            hash=str(digest),
            scopes=frozenset(s for s in str(scopes).split(",") if s),
            rpm=None if rpm is None else int(rpm),  # type: ignore[call-overload]
            max_concurrent=None if conc is None else int(conc),  # type: ignore[call-overload]
            expires_at=None if expires is None else float(expires),  # type: ignore[arg-type]
            revoked_at=None if revoked is None else float(revoked),  # type: ignore[arg-type]
            created_at=float(created),  # type: ignore[arg-type]
        )


def hash_key(key: str) -> str:
    """SHA-256 hex digest of a key. Keys carry 256 random bits, so no salt or KDF is needed."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh key: ``sk-`` and 256 random bits, URL-safe."""
    return "sk-" + secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    """A fresh Standard Webhooks secret: ``whsec_`` and 256 random bits in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_new_key(
    name: str, scopes: Iterable[str], rpm: int | None, max_concurrent: int | None
) -> frozenset[str]:
    """The rules every store applies before creating a key; the scopes as a set."""
    scope_set = frozenset(scopes)
    if not name or "," in name:
        raise KeyStoreError("name must be non-empty and contain no comma")
    if name.startswith("sk-"):
        raise KeyStoreError("name must not start with 'sk-' (reserved for key prefixes)")
    if unknown := scope_set - SCOPES:
        raise KeyStoreError(f"unknown scope(s): {', '.join(sorted(unknown))}")
    for limit, label in ((rpm, "rpm"), (max_concurrent, "max_concurrent")):
        if limit is not None and limit < 1:
            raise KeyStoreError(f"{label} must be at least 1")
    return scope_set


class KeyStore:
    """SQLite-backed key store; safe to share one file between processes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db = open_sqlite(self.path)

    def close(self) -> None:
        self._db.close()

    def create(
        self,
        name: str,
        *,
        scopes: Iterable[str] = ("chat", "extract"),
        rpm: int | None = None,
        max_concurrent: int | None = None,
        expires_at: float | None = None,
    ) -> str:
        """Create a key and return it. This is the only time the full key is available."""
        scope_set = check_new_key(name, scopes, rpm, max_concurrent)
        for _ in range(5):
            key = new_key()
            try:
                self._db.execute(
                    f"INSERT INTO api_keys ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,NULL,?)",
                    (
                        name,
                        key[:PREFIX_LEN],
                        hash_key(key),
                        ",".join(sorted(scope_set)),
                        rpm,
                        max_concurrent,
                        expires_at,
                        time.time(),
                    ),
                )
                return key
            except sqlite3.IntegrityError as exc:
                if "name" in str(exc) or self._active_named(name):
                    raise KeyStoreError(f"an active key named {name!r} exists") from exc
        raise KeyStoreError("could not draw a unique key prefix")  # pragma: no cover

    def _active_named(self, name: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM api_keys WHERE name=? AND revoked_at IS NULL", (name,)
        ).fetchone()
        return row is not None

    def lookup(self, key: str) -> KeyRecord | None:
        """The record for ``key`` (active or not), or None if no stored key matches."""
        if not KEY_PATTERN.fullmatch(key):
            return None
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM api_keys WHERE prefix=?", (key[:PREFIX_LEN],)
        ).fetchone()
        if row is None:
            return None
        record = KeyRecord.from_row(row)
        if not hmac.compare_digest(record.hash, hash_key(key)):
            return None
        return record

    def list(self) -> list[KeyRecord]:
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at").fetchall()
        return [KeyRecord.from_row(row) for row in rows]

    def revoke(self, name_or_prefix: str) -> KeyRecord:
        """Revoke the active key with this name, or the key with this prefix."""
        now = time.time()
        column = "prefix" if name_or_prefix.startswith("sk-") else "name"
        cur = self._db.execute(
            f"UPDATE api_keys SET revoked_at=? WHERE {column}=? AND revoked_at IS NULL"
            f" RETURNING {_COLUMNS}",
            (now, name_or_prefix),
        )
        row = cur.fetchone()
        cur.fetchall()
        if row is None:
            raise KeyStoreError(f"no active key with {column} {name_or_prefix!r}")
        return KeyRecord.from_row(row)

    def set_webhook_secret(self, name_or_prefix: str, secret: str | None) -> KeyRecord:
        """Give the active key with this name (or the key with this prefix) its own webhook
        signing secret, replacing any it had; None removes it (the global one signs again)."""
        column = "prefix" if name_or_prefix.startswith("sk-") else "name"
        cur = self._db.execute(
            f"UPDATE api_keys SET webhook_secret=? WHERE {column}=? AND revoked_at IS NULL"
            f" RETURNING {_COLUMNS}",
            (secret, name_or_prefix),
        )
        row = cur.fetchone()
        cur.fetchall()
        if row is None:
            raise KeyStoreError(f"no active key with {column} {name_or_prefix!r}")
        return KeyRecord.from_row(row)

    def webhook_secret(self, prefix: str) -> str | None:
        """The key's own webhook signing secret, or None."""
        row = self._db.execute(
            "SELECT webhook_secret FROM api_keys WHERE prefix=?", (prefix,)
        ).fetchone()
        return None if row is None or row[0] is None else str(row[0])
