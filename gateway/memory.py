"""Give freed heap memory back to the operating system (glibc ``malloc_trim``).

Decoding a 12 MP photo allocates tens of MB in a decode thread. glibc serves each thread from
its own arena (up to 8 per core) and keeps what is freed in it for the next allocation, so a
worker that decoded photos in several threads holds their high-water marks as RSS although
nothing uses it: freed, not leaked (docs/gateway.md, "Memory after photos"). ``trim()`` asks
every arena to return its free pages; ``DecodeSlots`` calls it when the last decode in flight
finishes, in that worker thread (ctypes releases the GIL for the call). Elsewhere than glibc
(musl, macOS) it does nothing.

    trim()    # True if glibc released memory
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

__all__ = ["trim"]


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        func = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    func.argtypes = [ctypes.c_size_t]
    func.restype = ctypes.c_int
    return func


_TRIM = _malloc_trim()


def trim() -> bool:
    """Return freed heap pages of every arena to the OS; False where there is nothing to call
    or nothing was released."""
    return bool(_TRIM(0)) if _TRIM is not None else False
