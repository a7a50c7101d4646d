"""The step ramp: users grow in equal steps, each held long enough to measure.

Where latency "breaks" is a knee: TTFT and queue time stay flat while the engine has spare
batch slots and KV blocks, then climb steeply. Holding each level for ``step_duration_s``
gives every level its own percentiles and throughput (``summary.step_table``) and the plots
against users. Locust picks this shape up only when the CLI adds ``stepshape.py`` to ``-f``;
the fixed and open shapes have no shape class at all.
"""

from __future__ import annotations

from locust import LoadTestShape

from loadtest.context import context_of
from loadtest.ramp import step_index, step_levels

__all__ = ["StepLoadShape"]


class StepLoadShape(LoadTestShape):
    """Locust shape: ``users`` from `step_levels`, ``step_duration_s`` each, then stop."""

    def tick(self) -> tuple[int, float] | None:
        if self.runner is None:
            return None
        cfg = context_of(self.runner.environment).cfg
        levels = step_levels(cfg.users, cfg.step_users)
        step = step_index(cfg, self.get_run_time())
        if step >= len(levels):
            return None
        return levels[step], cfg.spawn_rate
