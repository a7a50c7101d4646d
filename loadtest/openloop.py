"""Open-loop load: requests leave on a clock, whether or not earlier ones have answered.

A closed-loop user waits for each answer before sending the next, so when the server slows
down the users send less, and the slow period is sampled less: *coordinated omission*. The
tail latencies then look better than what a real population of independent clients would
see. Here one scheduler greenlet per Locust process walks an arrival clock (constant gaps or
Poisson) and spawns each request in its own greenlet, so a slow answer never delays the next
arrival. Each request's latency is measured from its *intended* send time: if it had to wait
for a free connection (``max_inflight``) or for a busy load generator, that wait counts, and
the delay itself is recorded as ``LAG``.

Run one scheduler user per Locust process (the CLI asks Locust for ``--processes`` users);
each takes ``rate / processes`` arrivals per second.
"""

from __future__ import annotations

import random
import time
from typing import ClassVar

import gevent
from gevent.lock import BoundedSemaphore
from gevent.pool import Group
from locust import FastHttpUser, task
from locust.env import Environment

from loadtest.context import RunContext, Start, context_of
from loadtest.scenarios import RUNNERS

__all__ = ["OpenLoopUser", "arrival_gaps"]


def arrival_gaps(rate: float, arrival: str, rng: random.Random) -> float:
    """Seconds until the next arrival: ``1/rate`` (constant) or exponential (Poisson)."""
    if rate <= 0:
        raise ValueError("arrival rate must be positive")
    return rng.expovariate(rate) if arrival == "poisson" else 1.0 / rate


class OpenLoopUser(FastHttpUser):
    """Not a user but a scheduler: one per Locust process, firing the mix at a fixed rate."""

    kind: ClassVar[str] = "open"

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.ctx: RunContext = context_of(environment)
        self.rng = self.ctx.rng()
        self.inflight = Group()
        self.slots = BoundedSemaphore(self.ctx.cfg.max_inflight)
        # the locustfile counts what is still in flight when the run stops
        self.ctx.extras.setdefault("inflight_groups", []).append(self.inflight)

    def wait_time(self) -> float:
        return 0.0

    @task
    def schedule(self) -> None:
        """Spawn arrivals until Locust stops this user (the run's duration)."""
        cfg = self.ctx.cfg
        rate = cfg.rate / max(1, cfg.processes)
        kinds, weights = zip(*cfg.weights().items(), strict=True)
        t0_perf, t0_wall = time.perf_counter(), time.time()
        due = t0_perf
        while True:
            delay = due - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            kind = self.rng.choices(kinds, weights)[0]
            start = Start(t0_wall + (due - t0_perf), due)
            self.inflight.spawn(self._send, kind, start, random.Random(self.rng.random()))
            self.ctx.extras["arrivals"] = self.ctx.extras.get("arrivals", 0) + 1
            due += arrival_gaps(rate, cfg.arrival, self.rng)

    def _send(self, kind: str, start: Start, rng: random.Random) -> None:
        with self.slots:
            lag = time.perf_counter() - start.perf
            RUNNERS[kind](self.client, self.ctx, rng, Start(start.wall, start.perf, lag))

    def on_stop(self) -> None:
        """Requests still in flight at the end are abandoned, as Locust does for users."""
        self.inflight.kill(block=False)
