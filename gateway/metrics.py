"""Prometheus metrics of one gateway app, in the app's own ``CollectorRegistry``.

A registry per app (not the global default) lets tests build several apps in one process.
Labels stay low-cardinality: the route *template*, the status code and the key *name*.

    metrics = GatewayMetrics()
    metrics.requests.labels(route="/v1/chat/completions", status="200", key="alice").inc()
    body, content_type = metrics.render()
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["GatewayMetrics"]

_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
)


class _Children:
    """Labelled children built once per label set: prometheus' ``labels()`` costs
    microseconds per call, and the hot path records several metrics per request. Bounded,
    in case a label (the key name) takes very many values."""

    def __init__(self, build: Callable[..., Any], limit: int = 10_000) -> None:
        self._build = build
        self._limit = limit
        self._made: dict[Hashable, Any] = {}

    def __call__(self, *labels: str) -> Any:
        made = self._made.get(labels)
        if made is None:
            if len(self._made) >= self._limit:
                self._made.clear()
            made = self._made[labels] = self._build(*labels)
        return made


class GatewayMetrics:
    """All gateway metrics, registered in a fresh registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "gateway_requests",
            "Requests by route, status and key name.",
            ["route", "status", "key"],
            registry=r,
        )
        self.latency = Histogram(
            "gateway_request_duration_seconds",
            "Time from request start to the last byte sent.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_latency = Histogram(
            "gateway_upstream_duration_seconds",
            "Time until vLLM answered (response headers for streams, full body otherwise).",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "gateway_stream_ttft_seconds",
            "Streams: request start to the first body byte from vLLM.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter(
            "gateway_upstream_errors",
            "Upstream failures by kind (unavailable, timeout, malformed, midstream, status_5xx).",
            ["kind"],
            registry=r,
        )
        self.images_rejected = Counter(
            "gateway_images_rejected", "Rejected images by reason.", ["reason"], registry=r
        )
        self.tokens = Counter(
            "gateway_tokens",
            "Tokens reported by vLLM usage, by key and kind.",
            ["key", "kind"],
            registry=r,
        )

        self.replica_requests = Counter(
            "gateway_upstream_requests",
            "Requests sent to each vLLM replica (retries after a refused connection included).",
            ["replica"],
            registry=r,
        )
        self.replica_up = Gauge(
            "gateway_upstream_replica_up",
            "1 while a vLLM replica is in rotation, 0 while it is taken out.",
            ["replica"],
            registry=r,
        )
        self.limiter_errors = Counter(
            "gateway_limiter_errors",
            "Rate-limit checks that could not reach Redis (admitted or refused per"
            " GATEWAY_LIMITS_FAIL_MODE).",
            registry=r,
        )
        self.limiter_lapsed_leases = Counter(
            "gateway_limiter_lapsed_leases",
            "Concurrency leases found already expired in Redis when this process refreshed"
            " them (it stalled longer than GATEWAY_LIMIT_LEASE_TTL_S): requests that ran on"
            " uncounted.",
            registry=r,
        )
        self.key_store_errors = Counter(
            "gateway_key_store_errors",
            "Key lookups that could not reach the key database (a recently seen key is"
            " still served from the cache; others get 503).",
            registry=r,
        )
        self.background_in_flight = Gauge(
            "gateway_background_calls_in_flight",
            "Background engine calls (batch lines) in flight from this process, at vLLM"
            " priority GATEWAY_BACKGROUND_PRIORITY.",
            registry=r,
        )
        self.queue_depth = Gauge(
            "gateway_queue_depth",
            "Units of background work queued or running, by kind (batch_line, job_page, webhook).",
            ["kind"],
            registry=r,
        )
        self.queue_oldest_age = Gauge(
            "gateway_queue_oldest_age_seconds",
            "Age of the oldest queued unit of background work, by kind (0: none queued).",
            ["kind"],
            registry=r,
        )

        self.request_children = _Children(
            lambda route, status, key: (
                self.requests.labels(route=route, status=status, key=key),
                self.latency.labels(route=route),
            )
        )
        """``request_children(route, status, key)`` → (requests counter, latency histogram)"""
        self.token_counters = _Children(
            lambda key: (
                self.tokens.labels(key=key, kind="prompt"),
                self.tokens.labels(key=key, kind="completion"),
            )
        )
        """``token_counters(key)`` → (prompt tokens counter, completion tokens counter)"""

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
