"""The locustfile: user classes plus the hooks that build, time and save a run.

Run it through ``python -m loadtest run`` (which writes ``config.json`` and passes
``--loadtest-config``), or directly for Locust's web UI::

    OPENAI_API_KEY=sk-... locust -f loadtest/locustfile.py -H http://127.0.0.1:8080

Without a config file the defaults of `RunConfig` apply (model ``phi-3.5-vision``, the default
schemas, results in the current folder).

Locust imports this file by path, as a module called ``locustfile``, so every import here is
absolute (``loadtest.…``) and the repository root must be the working directory or on
``PYTHONPATH``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadtest.config import RunConfig
from loadtest.context import RunContext, attach, context_of, make_context
from loadtest.cpumeter import CpuMeter
from loadtest.openloop import OpenLoopUser
from loadtest.users import (
    CLOSED_LOOP_USERS,
    ChatUser,
    ExtractUser,
    RepeatImageUser,
    StreamUser,
    configure_user_classes,
)

__all__ = ["ChatUser", "ExtractUser", "OpenLoopUser", "RepeatImageUser", "StreamUser"]

CPU_WINDOW_S = 5.0


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    parser.add_argument(
        "--loadtest-config",
        default=os.environ.get("LOADTEST_CONFIG", ""),
        help="config.json written by `python -m loadtest run`",
        include_in_web_ui=False,
    )


def _load_config(environment: Environment) -> RunConfig:
    options = environment.parsed_options
    path = getattr(options, "loadtest_config", "") if options is not None else ""
    cfg = RunConfig.load(Path(path)) if path else RunConfig()
    if environment.host:
        cfg.host = environment.host
    return cfg


@events.init.add_listener
def _on_init(environment: Environment, **_kw: Any) -> None:
    """Build the context (the corpus is drawn and encoded here, before any timing)."""
    cfg = _load_config(environment)
    ctx = make_context(cfg, os.environ.get("OPENAI_API_KEY", ""), environment.events.request.fire)
    ctx.users = lambda: environment.runner.user_count if environment.runner else 0
    attach(environment, ctx)
    configure_user_classes(ctx, list(CLOSED_LOOP_USERS.values()))
    OpenLoopUser.network_timeout = cfg.request_timeout_s
    OpenLoopUser.connection_timeout = min(30.0, cfg.request_timeout_s)
    OpenLoopUser.concurrency = cfg.max_inflight

    def on_spawning_complete(user_count: int, **_kw: Any) -> None:
        """The first time only: where ``--reset-stats`` cuts, and where our summary starts.
        (Locust passes no environment to this event, hence the closure.)"""
        if ctx.recorder.measure_from is None:
            ctx.recorder.measure_from = time.time()

    environment.events.spawning_complete.add_listener(on_spawning_complete)


def _sample_cpu(ctx: RunContext) -> None:
    while True:
        gevent.sleep(CPU_WINDOW_S)
        ctx.meter.tick()


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_kw: Any) -> None:
    ctx = context_of(environment)
    ctx.meter = CpuMeter()
    ctx.recorder.samples.clear()  # a second run from the web UI starts afresh
    ctx.recorder.measure_from = None
    ctx.extras.update(test_start=time.time(), cpu_warnings=0)
    ctx.extras["cpu_greenlet"] = gevent.spawn(_sample_cpu, ctx)


@events.test_stopping.add_listener
def _on_test_stopping(environment: Environment, **_kw: Any) -> None:
    """Before users are stopped: open-loop requests still in flight will be abandoned."""
    ctx = context_of(environment)
    ctx.extras["abandoned"] = sum(len(g) for g in ctx.extras.get("inflight_groups", []))


@events.cpu_warning.add_listener
def _on_cpu_warning(environment: Environment, **_kw: Any) -> None:
    context_of(environment).extras["cpu_warnings"] = (
        context_of(environment).extras.get("cpu_warnings", 0) + 1
    )


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_kw: Any) -> None:
    """Write this process's samples and its own CPU use next to Locust's CSVs."""
    ctx = context_of(environment)
    greenlet = ctx.extras.pop("cpu_greenlet", None)
    if greenlet is not None:
        greenlet.kill(block=False)
    ctx.meter.tick()
    runner = environment.runner
    role = (
        "master"
        if isinstance(runner, MasterRunner)
        else "worker"
        if isinstance(runner, WorkerRunner)
        else "local"
    )
    meta = {
        "role": role,
        "cpu": ctx.meter.summary(),
        "test_start": ctx.extras.get("test_start"),
        "test_stop": time.time(),
        "locust_cpu_warnings": ctx.extras.get("cpu_warnings", 0),
        "arrivals": ctx.extras.get("arrivals"),
        "abandoned": ctx.extras.get("abandoned"),
    }
    ctx.recorder.write(Path(ctx.cfg.out_dir), meta)
