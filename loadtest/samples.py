"""Per-request samples: kept raw, written per Locust process, and turned into Locust stats.

Locust's own statistics round response times into buckets and keep no per-request record,
and a step ramp needs each request's user count and start time. So every request becomes a
`Sample`, each Locust process writes its samples to ``samples-<pid>.json`` when it stops, and
the report computes exact percentiles from them. The `Recorder` also fires the custom Locust
entries (``TTFT``, ``ITL``, ``TOK/S``, ``LAG``), so Locust's CSV and HTML show them too.

Units in those custom entries: Locust calls the field "response time" and prints ms. TTFT,
ITL and LAG are ms; TOK/S puts tokens per second in that field (its "length" column holds the
request's output tokens).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["FireFn", "Recorder", "Sample", "load_samples"]

FireFn = Callable[..., Any]
"""``environment.events.request.fire`` or a stand-in with the same keyword arguments."""


@dataclass
class Sample:
    """One request as the user saw it. Times in seconds; ``start`` is wall-clock (epoch)."""

    kind: str
    name: str
    start: float
    ok: bool
    e2e_s: float | None = None
    ttft_s: float | None = None
    itl_s: list[float] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    status: int = 0
    error: str | None = None
    """A short type, e.g. ``http_429/rate_limited``, ``timeout``, ``stream_error/…``."""
    message: str | None = None
    users: int = 0
    lag_s: float | None = None
    """Open loop: how late the request left against its schedule (generator/connection cap)."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["itl_s"] = [round(x, 6) for x in self.itl_s]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sample:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class Recorder:
    """Collects the samples of one Locust process and fires its custom stats entries."""

    def __init__(self, fire: FireFn | None = None) -> None:
        self._fire = fire
        self.samples: list[Sample] = []
        self.measure_from: float | None = None
        """Wall time when spawning completed (Locust's ``--reset-stats`` moment)."""

    def _entry(self, kind: str, name: str, value: float, length: int = 0) -> None:
        if self._fire is not None:
            self._fire(
                request_type=kind,
                name=name,
                response_time=value,
                response_length=length,
                exception=None,
                context={},
            )

    def record(self, sample: Sample) -> None:
        """Keep ``sample``; for a success, fire TTFT/ITL/TOK/S entries under its name."""
        self.samples.append(sample)
        if sample.lag_s is not None:
            self._entry("LAG", sample.kind, sample.lag_s * 1000)
        if not sample.ok:
            return
        if sample.ttft_s is not None:
            self._entry("TTFT", sample.name, sample.ttft_s * 1000)
        for gap in sample.itl_s:
            self._entry("ITL", sample.name, gap * 1000)
        if sample.completion_tokens and sample.e2e_s:
            self._entry(
                "TOK/S",
                sample.name,
                sample.completion_tokens / sample.e2e_s,
                sample.completion_tokens,
            )

    def write(self, out_dir: Path, meta: dict[str, Any]) -> Path:
        """``samples-<pid>.json`` with this process's samples and ``meta`` (CPU, times)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"samples-{os.getpid()}.json"
        body = {
            "meta": {**meta, "pid": os.getpid(), "measure_from": self.measure_from},
            "samples": [s.to_json() for s in self.samples],
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body))
        tmp.replace(path)
        return path


def load_samples(out_dir: Path) -> tuple[list[Sample], list[dict[str, Any]]]:
    """All samples and per-process metadata written into ``out_dir``."""
    samples: list[Sample] = []
    metas: list[dict[str, Any]] = []
    for path in sorted(out_dir.glob("samples-*.json")):
        body = json.loads(path.read_text())
        metas.append(body.get("meta", {}))
        samples.extend(Sample.from_json(s) for s in body.get("samples", []))
    samples.sort(key=lambda s: s.start)
    return samples, metas
