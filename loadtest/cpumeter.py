"""How busy the load generator itself is, from ``os.times()`` (stdlib, no psutil).

Locust runs every simulated user on one core (gevent). When that core is saturated, requests
leave late and responses are read late: TTFT and ITL grow on the *client*, and the report
would blame the server. So each Locust process samples its own CPU time every few seconds,
and the report warns when any window went over `SATURATED` of a core; the fix is
``--processes N`` (one Locust worker per core) or a bigger load-generator machine.

    meter = CpuMeter();  ...;  meter.tick();  ...;  meter.tick()
    meter.summary()   # {"mean": 0.31, "peak": 0.52, "windows": 12, "saturated_windows": 0}
"""

from __future__ import annotations

import os
import time
from typing import Any

__all__ = ["SATURATED", "CpuMeter", "is_saturated"]

SATURATED = 0.9
"""Share of one core above which a window counts as saturated."""


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


class CpuMeter:
    """Utilisation of this process per window between calls to `tick`."""

    def __init__(self) -> None:
        self._t0_wall = self._last_wall = time.monotonic()
        self._t0_cpu = self._last_cpu = _cpu_seconds()
        self.windows: list[tuple[float, float]] = []
        """(wall time at the end of the window, share of a core)."""

    def tick(self) -> float:
        """Close the current window; returns its utilisation (1.0 = one full core)."""
        now, cpu = time.monotonic(), _cpu_seconds()
        span = now - self._last_wall
        util = (cpu - self._last_cpu) / span if span > 0 else 0.0
        self._last_wall, self._last_cpu = now, cpu
        self.windows.append((time.time(), round(util, 4)))
        return util

    def summary(self) -> dict[str, Any]:
        """Mean over the whole life of the meter, peak window, and how many were saturated."""
        span = time.monotonic() - self._t0_wall
        mean = (_cpu_seconds() - self._t0_cpu) / span if span > 0 else 0.0
        utils = [u for _, u in self.windows]
        return {
            "mean": round(mean, 4),
            "peak": max(utils, default=0.0),
            "windows": len(utils),
            "saturated_windows": sum(u > SATURATED for u in utils),
            "series": self.windows,
        }


def is_saturated(summary: dict[str, Any]) -> bool:
    """Saturated if the mean or at least two windows went over `SATURATED` of a core.

    One window alone can be a garbage-collection pause; two or a high mean is a pattern.
    """
    return bool(summary.get("mean", 0.0) > SATURATED or summary.get("saturated_windows", 0) >= 2)
