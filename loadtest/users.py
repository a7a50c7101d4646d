"""Closed-loop Locust users, one class per kind of traffic.

Each user sends one request (or one repeat-image conversation), waits for the whole answer,
optionally thinks (or backs off after a failure), and sends the next: the way an interactive
client behaves, and what the ``fixed`` and ``step`` shapes use. Their relative numbers come
from the mix (``weight`` is set from the config in the locustfile's ``init`` hook).

``FastHttpUser`` (geventhttpclient) rather than ``HttpUser`` (requests) because it costs
several times less CPU per request, and the load generator must not be the bottleneck.
"""

from __future__ import annotations

import random
from typing import ClassVar

from locust import FastHttpUser, task
from locust.env import Environment

from loadtest.context import RunContext, context_of
from loadtest.scenarios import RUNNERS

__all__ = [
    "CLOSED_LOOP_USERS",
    "ChatUser",
    "ExtractUser",
    "LoadUser",
    "RepeatImageUser",
    "StreamUser",
    "configure_user_classes",
]


class LoadUser(FastHttpUser):
    """Shared set-up: the process's context, a per-user random generator, think time."""

    abstract = True
    kind: ClassVar[str] = ""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.ctx: RunContext = context_of(environment)
        self.rng: random.Random = self.ctx.rng()
        self.last_ok = True

    def wait_time(self) -> float:
        """Think time; after a failure at least ``failure_backoff_s``.

        A user whose requests fail at once (a missing route, a revoked key) would otherwise
        loop thousands of times a second, measuring only the error path and taking the
        generator's CPU from the users that measure something.
        """
        cfg = self.ctx.cfg
        return cfg.think_time_s if self.last_ok else max(cfg.think_time_s, cfg.failure_backoff_s)

    @task
    def send(self) -> None:
        self.last_ok = RUNNERS[self.kind](self.client, self.ctx, self.rng)


class ChatUser(LoadUser):
    """Chat with one image, non-streaming."""

    kind = "chat"


class StreamUser(LoadUser):
    """Streaming chat with one image (TTFT, ITL, tokens/s)."""

    kind = "stream"


class ExtractUser(LoadUser):
    """``POST /v1/extract/{schema}`` over several schemas."""

    kind = "extract"


class RepeatImageUser(LoadUser):
    """Several streamed prompts on one image: the prefix cache at work."""

    kind = "repeat"


CLOSED_LOOP_USERS: dict[str, type[LoadUser]] = {
    cls.kind: cls for cls in (ChatUser, StreamUser, ExtractUser, RepeatImageUser)
}


def configure_user_classes(ctx: RunContext, user_classes: list[type[LoadUser]]) -> None:
    """Weights from the mix, timeouts from the config; before any user is created."""
    weights = ctx.cfg.weights()
    for cls in user_classes:
        # Locust wants integer weights; keep a 1:3 mix exact by scaling fractional ones.
        cls.weight = max(1, round(weights.get(cls.kind, 0.0) * 100))
        cls.network_timeout = ctx.cfg.request_timeout_s
        cls.connection_timeout = min(30.0, ctx.cfg.request_timeout_s)
