"""Everything between the gateway and the vLLM replicas.

client.py     Upstream: pooled aiohttp session, replica choice, retries, error mapping
relay.py      relaying one event stream to the client, in-band error event
replicas.py   the replica set: hash ring for image affinity, least-loaded, up/down
health.py     background ``/health`` polls of every replica
background.py BackgroundUpstream: background calls at a lower vLLM priority, capped
"""

from .background import BackgroundUpstream, with_priority
from .client import CONNECT_ERRORS, UPSTREAM_ERRORS, Upstream, make_upstream_session
from .health import check_all, poll_forever
from .replicas import VNODES, HashRing, Policy, Replica, ReplicaSet

__all__ = [
    "BackgroundUpstream",
    "with_priority",
    "CONNECT_ERRORS",
    "UPSTREAM_ERRORS",
    "Upstream",
    "make_upstream_session",
    "check_all",
    "poll_forever",
    "VNODES",
    "HashRing",
    "Policy",
    "Replica",
    "ReplicaSet",
]
