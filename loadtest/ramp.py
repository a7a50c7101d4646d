"""Step-ramp arithmetic, kept free of Locust so the report can use it without gevent.

step_levels(users=16, step_users=4)    # [4, 8, 12, 16]
step_index(cfg, elapsed_s=65)          # 2 with step_duration_s=30
"""

from __future__ import annotations

from loadtest.config import RunConfig

__all__ = ["step_index", "step_levels"]


def step_levels(users: int, step_users: int) -> list[int]:
    """``[step, 2·step, …, users]``; the last level is ``users`` even if not a multiple."""
    if users < 1 or step_users < 1:
        raise ValueError("users and step_users must be at least 1")
    levels = list(range(step_users, users + 1, step_users))
    if not levels or levels[-1] != users:
        levels.append(users)
    return levels


def step_index(cfg: RunConfig, elapsed_s: float) -> int:
    """Which step a moment ``elapsed_s`` after the start belongs to."""
    return int(max(0.0, elapsed_s) // cfg.step_duration_s)
