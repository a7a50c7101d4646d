"""A bounded pool for image decoding: at most N images decode at once in a worker.

A 12 MP JPEG decoded in full is a 36 MB RGB buffer, and before this pool a gateway worker
decoded every image in flight at once (~800 MB at 16 in flight). Requests now take a slot
before their image's bytes are even base64-decoded; the rest wait in line holding only their
request body. The pool runs its work in threads (Pillow releases the GIL while decoding), so
N slots use up to N cores; the default is the machine's CPU count.

    slots = DecodeSlots(settings.image_decode_concurrency)
    prepared = await slots.run(presize_image, data, "JPEG", 4, cap)

``active`` and ``peak`` are read by ``/metrics`` and by the tests that check the bound. When
the last decode in flight finishes, its thread calls ``memory.trim`` (unless ``trim=False``):
glibc would otherwise keep each decode thread's freed buffers as RSS (docs/gateway.md).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread

from ..memory import trim as release_freed_memory

__all__ = ["DecodeSlots", "default_decode_concurrency"]

P = ParamSpec("P")
T = TypeVar("T")


def default_decode_concurrency() -> int:
    """One slot per CPU this process may run on (the cgroup/affinity view, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class DecodeSlots:
    """Run CPU-bound image work in threads, at most ``limit`` at a time."""

    def __init__(self, limit: int, trim: bool = True) -> None:
        if limit < 1:
            raise ValueError(f"decode concurrency must be at least 1, got {limit}")
        self.limit = limit
        self.trim = trim
        """Give freed memory back to the OS whenever the slots fall idle."""
        self.trims = 0
        """How often that happened (tests read it)."""
        self._limiter = anyio.CapacityLimiter(limit)
        self._lock = threading.Lock()
        self.active = 0
        """Decodes running right now."""
        self.peak = 0
        """Most decodes seen running at once since start (or the last ``reset_peak``)."""

    @property
    def waiting(self) -> int:
        """Requests queued for a slot."""
        return self._limiter.statistics().tasks_waiting

    async def run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``func(*args, **kwargs)`` in a worker thread once a slot is free."""
        return await anyio.to_thread.run_sync(
            lambda: self._counted(func, *args, **kwargs), limiter=self._limiter
        )

    def _counted(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            return func(*args, **kwargs)
        finally:
            with self._lock:
                self.active -= 1
                idle = self.active == 0
            if idle and self.trim:
                release_freed_memory()
                self.trims += 1

    def reset_peak(self) -> None:
        with self._lock:
            self.peak = self.active
