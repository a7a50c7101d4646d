"""The step ramp: users grow in equal steps, each held long enough to measure.

Where latency "breaks" is a knee: TTFT and queue time stay flat while the engine has spare
batch slots and KV blocks, then climb steeply. Holding each level for ``step_duration_s``
gives every level its own percentiles and throughput (``summary.step_table``) and the plots
against users.

This file is a second locustfile: Locust uses any shape class a locustfile holds, so the CLI
adds it to ``-f`` only for ``--shape step``; the fixed and open shapes have no shape class.
The ramp's arithmetic is ``RunConfig.step_levels`` / ``step_index``, free of Locust, so the
report uses it without gevent.
"""

from __future__ import annotations

from locust import LoadTestShape

from loadtest.context import context_of

__all__ = ["StepLoadShape"]


class StepLoadShape(LoadTestShape):
    """Locust shape: ``users`` from ``RunConfig.step_levels``, ``step_duration_s`` each, then
    stop."""

    def tick(self) -> tuple[int, float] | None:
        if self.runner is None:
            return None
        cfg = context_of(self.runner.environment).cfg
        levels = cfg.step_levels()
        step = cfg.step_index(self.get_run_time())
        if step >= len(levels):
            return None
        return levels[step], cfg.spawn_rate
