"""One typed description of a load-test run, shared by the CLI, Locust and the report.

The CLI resolves everything it can before Locust starts (the model name from ``/v1/models``,
the schema list from ``/v1/schemas``) and writes the result as ``config.json`` in the output
folder. The locustfile reads that file, so every Locust process (``--processes N`` forks
several) sends exactly the same traffic, and the report can print the settings that gave the
numbers. The API key is never written there: it travels in ``OPENAI_API_KEY``.

    cfg = RunConfig(host="http://127.0.0.1:8080", users=8, mix=parse_mix("stream=3,extract=1"))
    cfg.save(Path("out/config.json"));  RunConfig.load(Path("out/config.json")) == cfg
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "DEFAULT_MIX",
    "DEFAULT_SCHEMAS",
    "KINDS",
    "RunConfig",
    "Shape",
    "parse_duration",
    "parse_mix",
]

KINDS = ("chat", "stream", "extract", "repeat")
"""Request kinds, one Locust user class each (see ``users.py``)."""
DEFAULT_MIX: dict[str, float] = {kind: 1.0 for kind in KINDS}
DEFAULT_SCHEMAS = ("image_insight", "scene", "people_count", "object_count")
"""The extract kind's schemas when ``--schemas`` is not given, those of them the gateway lists:
kinds that suit any picture."""
Shape = Literal["fixed", "step", "open"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|s)?", re.IGNORECASE)


def parse_duration(text: str | float | int) -> float:
    """Seconds from Locust-style text: ``90``, ``90s``, ``5m``, ``1h30m``, ``1m30s``."""
    if isinstance(text, int | float):
        return float(text)
    compact = text.strip().replace(" ", "")
    if not compact:
        raise ValueError("empty duration")
    total, pos = 0.0, 0
    for match in _DURATION.finditer(compact):
        if match.start() != pos:
            break
        unit = (match.group(2) or "s").lower()
        total += float(match.group(1)) * {"h": 3600, "m": 60, "s": 1}[unit]
        pos = match.end()
    if pos != len(compact):
        raise ValueError(f"not a duration: {text!r} (examples: 90, 90s, 5m, 1h30m)")
    return total


def parse_mix(text: str) -> dict[str, float]:
    """``"stream=3,extract=1"`` → weights per kind; kinds left out get 0.

    A bare list (``"chat,stream"``) weighs each named kind 1. At least one weight must be
    positive, and only the kinds in `KINDS` are known.
    """
    mix = {kind: 0.0 for kind in KINDS}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in mix:
            raise ValueError(f"unknown kind {name!r} in mix; known: {', '.join(KINDS)}")
        try:
            mix[name] = float(weight) if weight.strip() else 1.0
        except ValueError:
            raise ValueError(f"weight of {name!r} is not a number: {weight!r}") from None
        if mix[name] < 0:
            raise ValueError(f"weight of {name!r} must not be negative")
    if not any(w > 0 for w in mix.values()):
        raise ValueError(f"mix {text!r} gives no kind a positive weight")
    return mix


@dataclass
class RunConfig:
    """Everything that decides what traffic is sent and how the report reads it."""

    host: str = "http://127.0.0.1:8080"
    """The gateway (never vLLM directly: the point is to measure the whole stack)."""
    model: str = "phi-3.5-vision"
    """Filled from ``GET /v1/models`` by the CLI."""
    schemas: list[str] = field(default_factory=list)
    """Extraction schemas the ``extract`` kind spreads over, chosen by the CLI among those
    the gateway's ``/v1/schemas`` lists."""
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    shape: Shape = "fixed"
    """``fixed``: N closed-loop users; ``step``: a user ramp in steps; ``open``: a fixed
    arrival rate that does not wait for responses (no coordinated omission)."""
    users: int = 4
    """Closed loop: users at the end (fixed) or at the top of the ramp (step)."""
    spawn_rate: float = 4.0
    duration_s: float = 60.0
    """Whole run for fixed/open, ramp-up included; ignored by ``step``."""
    step_users: int = 2
    step_duration_s: float = 30.0
    rate: float = 1.0
    """Open loop: requests (arrivals) per second across all Locust processes."""
    arrival: Literal["constant", "poisson"] = "constant"
    max_inflight: int = 512
    """Open loop: requests in flight at once; more wait client-side, and that wait counts
    (latency is measured from the intended send time)."""
    num_crops: int | None = None
    """Sent per request (``mm_processor_kwargs`` / extract ``num_crops``); None = server's."""
    max_tokens: int = 128
    extract_max_tokens: int | None = None
    extract_temperature: float = 0.0
    """Extraction sampling temperature (the API's default is 0). Random-weight test models
    need > 0: decoded greedily they fill every list and string bound and hit max_tokens."""
    ignore_eos: bool = False
    """Ask vLLM for exactly ``max_tokens`` (fixed output length, as serving benchmarks do)."""
    repeat_prompts: int = 4
    """Prompts per image in the ``repeat`` kind: the first fills the prefix cache."""
    think_time_s: float = 0.0
    failure_backoff_s: float = 1.0
    """Closed loop: the least a user waits after a failed request (see ``users.py``)."""
    seed: int = 0
    corpus_size: int = 24
    image_scale: float = 1.0
    request_timeout_s: float = 600.0
    slo_ttft_ms: float = 2000.0
    slo_itl_ms: float = 100.0
    slo_e2e_ms: float | None = None
    engine_metrics_urls: list[str] = field(default_factory=list)
    metrics_interval_s: float = 2.0
    engine_profile: str | None = None
    processes: int = 1
    out_dir: str = "."
    label: str = ""
    """Free text for the report title (``"h100, fp8 kv"``)."""

    def step_levels(self) -> list[int]:
        """The step ramp's users: ``[step, 2·step, …, users]``, the last level ``users`` even
        if it is not a multiple of ``step_users``.

            RunConfig(users=16, step_users=4).step_levels()    # [4, 8, 12, 16]
        """
        if self.users < 1 or self.step_users < 1:
            raise ValueError("users and step_users must be at least 1")
        levels = list(range(self.step_users, self.users + 1, self.step_users))
        if not levels or levels[-1] != self.users:
            levels.append(self.users)
        return levels

    def step_index(self, elapsed_s: float) -> int:
        """Which step of the ramp a moment ``elapsed_s`` after the start belongs to."""
        return int(max(0.0, elapsed_s) // self.step_duration_s)

    def weights(self) -> dict[str, float]:
        """Kinds with a positive weight, in `KINDS` order."""
        return {k: self.mix.get(k, 0.0) for k in KINDS if self.mix.get(k, 0.0) > 0}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunConfig:
        """Build from a dict, ignoring unknown keys (a newer file read by older code)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def load(cls, path: Path) -> RunConfig:
        return cls.from_json(json.loads(path.read_text()))
