"""The Locust side: the command line per shape, and that Locust finds our classes.

Locust is only ever imported in a subprocess: importing it monkey-patches the standard
library with gevent, which must not happen inside the test process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from loadtest.config import RunConfig
from loadtest.locustproc import locust_command

REPO = Path(__file__).resolve().parents[3]


def test_fixed_shape_resets_stats_after_ramp_up(tmp_path: Path) -> None:
    cfg = RunConfig(
        users=8,
        spawn_rate=2,
        duration_s=90,
        mix={"chat": 0, "stream": 1, "extract": 1, "repeat": 0},
    )
    cmd = locust_command(cfg, tmp_path / "config.json", tmp_path)
    assert cmd[cmd.index("-u") + 1] == "8" and cmd[cmd.index("-t") + 1] == "90s"
    assert "--reset-stats" in cmd and "--headless" in cmd
    assert cmd[-2:] == ["StreamUser", "ExtractUser"]
    assert "stepshape" not in cmd[cmd.index("-f") + 1]


def test_step_shape_adds_the_shape_file_and_no_run_time(tmp_path: Path) -> None:
    cmd = locust_command(RunConfig(shape="step"), tmp_path / "c.json", tmp_path)
    assert cmd[cmd.index("-f") + 1].endswith(
        "locustfile.py," + str(REPO / "loadtest" / "stepshape.py")
    )
    assert "-t" not in cmd and "-u" not in cmd
    assert "--reset-stats" not in cmd  # it would reset at every step


def test_open_shape_runs_one_scheduler_per_process(tmp_path: Path) -> None:
    cmd = locust_command(RunConfig(shape="open", processes=3), tmp_path / "c.json", tmp_path)
    assert cmd[cmd.index("-u") + 1] == "3" and cmd[cmd.index("--processes") + 1] == "3"
    assert cmd[-1] == "OpenLoopUser"


def test_locust_loads_the_locustfile_and_finds_every_user_class() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            "loadtest/locustfile.py,loadtest/stepshape.py",
            "--list",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    listed = set(proc.stdout.split())
    assert {"ChatUser", "StreamUser", "ExtractUser", "RepeatImageUser", "OpenLoopUser"} <= listed
    assert "LoadUser" not in listed  # the abstract base is not a user
