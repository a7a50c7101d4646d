"""Where the bytes of files live: ``FileBlobs`` (the interface) and ``LocalBlobs`` (a folder).

Rows (``store.FileRow``) say who owns a file and when it expires; the bytes are kept apart,
so a store on PostgreSQL can later keep them in chunked rows (gateway pods are stateless)
behind the same four methods. Bytes are written to a temporary name and renamed into place,
so a file is either whole or absent, even after a crash; they are read back in chunks, never
held whole in memory. Nothing here logs content.

    size = await blobs.save("file-…", chunks, limit=settings.batch_max_file_bytes)
    async for chunk in blobs.read("file-…"): ...
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Protocol

__all__ = ["BlobTooLarge", "FileBlobs", "LocalBlobs"]

_CHUNK = 1 << 20
_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")


class BlobTooLarge(Exception):
    """More bytes than the limit arrived; nothing was kept."""


class FileBlobs(Protocol):
    async def save(self, file_id: str, chunks: AsyncIterable[bytes], limit: int) -> int:
        """Store the chunks as ``file_id``; their size. ``BlobTooLarge`` past ``limit``."""
        ...

    def read(self, file_id: str) -> AsyncIterator[bytes]:
        """The file's bytes in chunks; ``FileNotFoundError`` if it is gone."""
        ...

    async def delete(self, file_id: str) -> None:
        """Remove the bytes for good (absent is fine)."""
        ...

    async def sweep_partial(self, older_than_s: float) -> None:
        """Remove what a crash left half-written (older than that: an upload may be under
        way in another gateway process)."""
        ...


class LocalBlobs:
    """Files in one folder, named by id (ids are checked: no path ever comes from a client)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, file_id: str) -> Path:
        if not _ID.fullmatch(file_id):
            raise ValueError("not a file id")
        return self.root / file_id

    async def save(self, file_id: str, chunks: AsyncIterable[bytes], limit: int) -> int:
        final = self._path(file_id)
        partial = final.with_name(final.name + ".partial")
        handle = await asyncio.to_thread(open, partial, "wb")
        size = 0
        try:
            pending: list[bytes] = []
            held = 0
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise BlobTooLarge(f"more than {limit} bytes")
                pending.append(chunk)
                held += len(chunk)
                if held >= _CHUNK:
                    await asyncio.to_thread(handle.write, b"".join(pending))
                    pending, held = [], 0
            if pending:
                await asyncio.to_thread(handle.write, b"".join(pending))
            await asyncio.to_thread(handle.flush)
            await asyncio.to_thread(os.fsync, handle.fileno())
        except BaseException:
            handle.close()
            partial.unlink(missing_ok=True)
            raise
        handle.close()
        await asyncio.to_thread(os.replace, partial, final)
        return size

    async def read(self, file_id: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(open, self._path(file_id), "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, _CHUNK):
                yield chunk
        finally:
            handle.close()

    async def delete(self, file_id: str) -> None:
        await asyncio.to_thread(self._path(file_id).unlink, missing_ok=True)

    async def sweep_partial(self, older_than_s: float) -> None:
        def sweep() -> None:
            cutoff = time.time() - older_than_s
            for path in self.root.glob("*.partial"):
                try:
                    if path.stat().st_mtime < cutoff:
                        path.unlink(missing_ok=True)
                except FileNotFoundError:
                    pass

        await asyncio.to_thread(sweep)
