"""``app_from_env``, the factory each gateway server process runs once, tunes that process.

Run in a fresh interpreter: freezing the garbage collector in the test process itself would
keep every later test's garbage alive.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.gateway_server import REPO, gateway_env

PROBE = """
import gc, json, logging
from gateway.app import app_from_env
before = gc.get_freeze_count()
app = app_from_env()
print(json.dumps({
    "before": before,
    "frozen": gc.get_freeze_count(),
    "routes": len(app.routes),
    "log_threads": logging.logThreads,
    "log_processes": logging.logProcesses,
}))
"""


def test_the_factory_freezes_what_lives_as_long_as_the_process(tmp_path: Path) -> None:
    env = gateway_env(tmp_path / "keys.db")
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == 0 and seen["routes"] > 0
    assert seen["frozen"] > 10_000, "the app's objects should be out of the collector's walks"
    assert seen["log_threads"] is False and seen["log_processes"] is False
