"""What every simulated user of one Locust process shares: config, corpus, recorder.

Built once per process in the locustfile's ``init`` hook (so the corpus is drawn and encoded
before any request is timed) and hung on the Locust ``Environment``, which every user can
reach; module globals would leak between test runs in one interpreter.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from loadtest.config import RunConfig
from loadtest.corpus import CorpusImage, build_corpus
from loadtest.cpumeter import CpuMeter
from loadtest.samples import FireFn, Recorder

__all__ = ["SCHEMA_IMAGE_KIND", "RunContext", "Start", "attach", "context_of", "make_context"]

SCHEMA_IMAGE_KIND = {
    "invoice": "document",
    "receipt": "document",
    "table": "document",
    "passport": "document",
    "id_card": "document",
    "scene": "photo",
    "people_count": "photo",
    "object_count": "photo",
}
"""Which corpus images suit a schema; schemas not named here get any image."""
_ATTR = "_vision_loadtest_context"


@dataclass(frozen=True)
class Start:
    """When a request was meant to leave. Closed loop: now. Open loop: its slot on the
    arrival clock, so that waiting for a free connection counts as latency."""

    wall: float
    perf: float
    lag_s: float | None = None

    @classmethod
    def now(cls) -> Start:
        return cls(time.time(), time.perf_counter())


@dataclass
class RunContext:
    """Shared, read-mostly state of one Locust process."""

    cfg: RunConfig
    corpus: list[CorpusImage]
    recorder: Recorder
    headers: dict[str, str]
    stream_headers: dict[str, str]
    users: Callable[[], int] = lambda: 0
    meter: CpuMeter = field(default_factory=CpuMeter)
    extras: dict[str, Any] = field(default_factory=dict)
    _seeds: Iterator[int] = field(default_factory=itertools.count)

    def rng(self) -> random.Random:
        """A fresh generator per user, derived from the run's seed."""
        return random.Random(f"{self.cfg.seed}:{next(self._seeds)}")

    def image(self, rng: random.Random, schema: str | None = None) -> CorpusImage:
        """A corpus image, of the kind that suits ``schema`` when there is one."""
        kind = SCHEMA_IMAGE_KIND.get(schema or "")
        pool = [im for im in self.corpus if im.kind == kind] or self.corpus
        return rng.choice(pool)


def make_context(cfg: RunConfig, api_key: str, fire: FireFn | None) -> RunContext:
    """Build the corpus and headers; ``fire`` is ``environment.events.request.fire``."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    # identity: a compressed event stream cannot be read line by line as it arrives
    stream_headers = {**headers, "Accept": "text/event-stream", "Accept-Encoding": "identity"}
    corpus = build_corpus(cfg.seed, cfg.corpus_size, cfg.image_scale)
    return RunContext(cfg, corpus, Recorder(fire), headers, stream_headers)


def attach(environment: object, ctx: RunContext) -> None:
    setattr(environment, _ATTR, ctx)


def context_of(environment: object) -> RunContext:
    """The context the locustfile attached; a clear error if the locustfile was bypassed."""
    ctx = getattr(environment, _ATTR, None)
    if not isinstance(ctx, RunContext):
        raise RuntimeError(
            "no load-test context: run through `python -m loadtest run` "
            "or `locust -f loadtest/locustfile.py`"
        )
    return ctx
