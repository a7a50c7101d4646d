"""``Lease``: a counted slot that is given back exactly once, however the request ends.

Two counts need that guarantee: a key's requests in flight (its concurrency limit) and a
replica's requests in flight (least-loaded routing). A request can end in many ways (answered,
streamed to the end, client gone mid-stream, upstream broken, cancelled), and several of them
may try to give the slot back; the first ``release`` counts, the others do nothing.

    replica.in_flight += 1
    lease = Lease(replica.leave)
    ...
    lease.release()          # idempotent
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Lease", "NO_LEASE"]


class Lease:
    """Calls ``give_back`` on the first ``release`` and never again."""

    __slots__ = ("_give_back",)

    def __init__(self, give_back: Callable[[], None] | None) -> None:
        self._give_back = give_back

    @property
    def held(self) -> bool:
        return self._give_back is not None

    def release(self) -> None:
        give_back, self._give_back = self._give_back, None
        if give_back is not None:
            give_back()


NO_LEASE = Lease(None)
"""For a request that holds nothing (a key without a concurrency limit)."""
