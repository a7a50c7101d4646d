"""The set of vLLM replicas behind the gateway, and which one a request goes to.

Why route at all: vLLM caches KV blocks per replica, and it hashes image content into its
prefix-cache blocks. Several prompts on one image are cheap only if they reach the replica that
already holds that image's blocks. So a request with an image goes to the owner of its first
image's digest on a consistent-hash ring; a request without one goes to the replica with the
fewest requests in flight.

    replicas = ReplicaSet(["http://vllm-0:8000", "http://vllm-1:8000"], metrics)
    replica = replicas.pick(digest)        # digest: sha256 of the first image, or None
    replicas.mark_down(replica, "ClientConnectorError")
    replicas.record_health(replica, ok=False, detail="HTTP 503", threshold=3)

The ring has ``VNODES`` points per replica, placed by hashing the replica's URL, so the points
of the others do not move when one leaves: only the keys it owned move, each to the next
replica clockwise. A replica that is down is skipped in the walk, so its keys come back to it
when it returns. When every replica is down, ``pick`` still returns the preferred one: the
request then fails to connect with a clear 503, and a replica that came back between two health
polls is used at once.

State is plain attributes mutated on the event loop: one gateway worker is one thread, so there
is nothing to lock.
"""

from __future__ import annotations

import hashlib
import itertools
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..leases import Lease
from ..metrics import GatewayMetrics

__all__ = ["HashRing", "Replica", "ReplicaSet", "VNODES", "Policy"]

VNODES = 160
"""Points per replica. ~160 keeps each replica's share within a few percent of 1/N."""

Policy = Literal["affinity", "round_robin"]


def _point(data: bytes) -> int:
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


class HashRing:
    """Consistent hashing over replica names; ``walk(key)`` yields indices, owner first."""

    def __init__(self, names: Sequence[str], vnodes: int = VNODES) -> None:
        points = sorted(
            (_point(f"{name}#{i}".encode()), index)
            for index, name in enumerate(names)
            for i in range(vnodes)
        )
        self._points = [p for p, _ in points]
        self._owners = [index for _, index in points]
        self._size = len(names)

    def walk(self, key: bytes) -> Iterator[int]:
        """Distinct replica indices clockwise from ``key``'s place on the ring."""
        start = bisect(self._points, _point(key))
        seen: set[int] = set()
        total = len(self._points)
        for step in range(total):
            index = self._owners[(start + step) % total]
            if index not in seen:
                seen.add(index)
                yield index
                if len(seen) == self._size:
                    return

    def owner(self, key: bytes) -> int:
        """The replica index that owns ``key`` when all are up."""
        return next(self.walk(key))


@dataclass(eq=False)
class Replica:
    """One vLLM server: where it is, whether it is in, and how busy it is right now."""

    url: str
    up: bool = True
    in_flight: int = 0
    failures: int = 0
    """Consecutive failed health polls."""
    detail: str = "not checked yet"
    chat_url: str = field(init=False)
    sent: Any = field(init=False, default=None, repr=False)
    """The pre-bound ``gateway_upstream_requests`` counter (no label lookup per request)."""

    def __post_init__(self) -> None:
        self.chat_url = self.url + "/v1/chat/completions"

    def enter(self) -> Lease:
        """Count one request in flight here until the lease is released."""
        self.in_flight += 1
        return Lease(self._leave)

    def _leave(self) -> None:
        self.in_flight -= 1

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "up": self.up,
            "in_flight": self.in_flight,
            "detail": self.detail,
        }


class ReplicaSet:
    """The replicas, their health and the routing policy."""

    def __init__(
        self, urls: Sequence[str], metrics: GatewayMetrics, policy: Policy = "affinity"
    ) -> None:
        if not urls:
            raise ValueError("at least one replica URL is needed")
        self.replicas = [Replica(url) for url in urls]
        self.policy = policy
        self.ring = HashRing(urls)
        self._metrics = metrics
        self._turn = itertools.count()
        for replica in self.replicas:
            replica.sent = metrics.replica_requests.labels(replica=replica.url)
            metrics.replica_up.labels(replica=replica.url).set(1)

    def __len__(self) -> int:
        return len(self.replicas)

    def pick(self, key: bytes | None = None) -> Replica:
        """The replica for a request whose first image digests to ``key`` (None: no image)."""
        replicas = self.replicas
        if len(replicas) == 1:
            return replicas[0]
        if self.policy == "round_robin":
            return self._round_robin()
        if key is not None:
            for index in self.ring.walk(key):
                if replicas[index].up:
                    return replicas[index]
            return replicas[self.ring.owner(key)]
        return self._least_loaded()

    def _least_loaded(self) -> Replica:
        replicas = self.replicas
        offset = next(self._turn)  # ties rotate instead of piling onto the first replica
        best: Replica | None = None
        for i in range(len(replicas)):
            replica = replicas[(offset + i) % len(replicas)]
            if replica.up and (best is None or replica.in_flight < best.in_flight):
                best = replica
        return best or replicas[offset % len(replicas)]

    def _round_robin(self) -> Replica:
        replicas = self.replicas
        offset = next(self._turn)
        for i in range(len(replicas)):
            replica = replicas[(offset + i) % len(replicas)]
            if replica.up:
                return replica
        return replicas[offset % len(replicas)]

    @property
    def any_up(self) -> bool:
        return any(replica.up for replica in self.replicas)

    def mark_down(self, replica: Replica, detail: str) -> None:
        """Take a replica out now (a connection to it was refused)."""
        replica.detail = detail
        self._set(replica, False)

    def record_health(self, replica: Replica, ok: bool, detail: str, threshold: int) -> None:
        """One health poll: ``threshold`` failures in a row take it out, a success brings it in."""
        replica.detail = detail
        if ok:
            replica.failures = 0
            self._set(replica, True)
            return
        replica.failures += 1
        if replica.failures >= threshold:
            self._set(replica, False)

    def _set(self, replica: Replica, up: bool) -> None:
        if replica.up != up:
            replica.up = up
            self._metrics.replica_up.labels(replica=replica.url).set(1 if up else 0)

    def describe(self) -> list[dict[str, Any]]:
        return [replica.describe() for replica in self.replicas]
