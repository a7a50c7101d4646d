"""``python -m serve``: plan and args output, one-line errors, and the run life cycle.

``run`` is driven against a stand-in engine (``tests.support.standins``: a tiny HTTP server
with a child of its own, started through the real CLI code) so start-up, readiness, signals and
process-group cleanup are tested in seconds; one test lets the real vLLM fail on a bogus
checkpoint. Stopping the whole tree is tested in ``tests/integration/test_stopping.py``.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from serve.launcher import ServerProcess, health_url
from serve.stopsignals import STOP_SIGNALS
from tests.support.procs import free_port
from tests.support.proctree import alive, descendants, describe, wait_gone
from tests.support.standins import TINY_CONFIG, write_checkpoint

REPO = Path(__file__).resolve().parents[2]


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "serve", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A folder that plans like the tiny checkpoint (config + a safetensors header)."""
    return write_checkpoint(tmp_path / "ckpt")


def start_stub_run(
    tmp_path: Path, checkpoint: Path, mode: str, *extra: str
) -> subprocess.Popen[str]:
    """``python -m serve run --profile cpu-dev`` with the stand-in as engine; output in files."""
    env = {**os.environ, "STUB_MODE": mode, "STUB_PIDS": str(tmp_path / "pids")}
    argv = ["run", "--profile", "cpu-dev", "--model", str(checkpoint), "--port", str(free_port())]
    with (tmp_path / "stdout").open("w") as out, (tmp_path / "stderr").open("w") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.support.standins", "serve", *argv, *extra],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=err,
            text=True,
            start_new_session=True,  # its own group, as in a terminal
        )


def wait_for_output(path: Path, text: str, within: float = 60.0) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if text in (out := path.read_text()):
            return out
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in output: {path.read_text()}")


def test_plan_prints_the_arithmetic_as_an_aligned_table() -> None:
    result = serve("plan", "--profile", "h100-80g")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "profile h100-80g (cuda)"
    rows = {line.split("  ")[1].strip(): line for line in lines[1:]}
    assert "393,216 B" in rows["KV per token"]
    assert "7.73 GiB" in rows["weights"]
    assert "2,653 tokens" in rows["worst-case image"] and "grid 16×1" in rows["worst-case image"]
    assert "5,725 tokens" in rows["one-image request"]
    assert "24 images × 781 (num_crops 4" in rows["multi-image request"]
    assert "21,816 tokens" in rows["one full request"]
    assert rows["concurrent requests"].split()[2] == "7"
    notes = ["built-in phi-3.5-vision", "2 × 32 layers", "num_crops 16", "blocks × block size"]
    note_columns = {line.index(note) for line in lines[1:] for note in notes if note in line}
    assert len(note_columns) == 1  # the columns line up


def test_plan_uses_the_checkpoint_when_it_is_there(checkpoint: Path) -> None:
    result = serve("plan", "--profile", "cpu-dev", "--model", str(checkpoint))
    assert result.returncode == 0, result.stderr
    assert f"checkpoint {checkpoint}" in result.stdout
    assert "349,504 tokens" in result.stdout  # vLLM logged exactly this for cpu-dev


def test_args_prints_a_shell_command_with_the_cpu_environment() -> None:
    result = serve("args", "--profile", "cpu-dev", "--port", "9123", "--host", "0.0.0.0")
    assert result.returncode == 0, result.stderr
    words = shlex.split(result.stdout)
    assert words[:4] == [
        "VLLM_CPU_OMP_THREADS_BIND=auto",
        "VLLM_CPU_NUM_OF_RESERVED_CPU=0",
        "OMP_WAIT_POLICY=PASSIVE",
        "VLLM_CPU_KVCACHE_SPACE=1",
    ]
    assert words[5:7] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert words[words.index("--port") + 1] == "9123"
    assert words[words.index("--host") + 1] == "0.0.0.0"
    assert json.loads(words[words.index("--mm-processor-kwargs") + 1]) == {"num_crops": 4}


@pytest.mark.parametrize("command", ["plan", "args", "run"])
def test_unknown_profile_is_one_line_and_non_zero(command: str) -> None:
    result = serve(command, "--profile", "tpu-v5")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: unknown profile 'tpu-v5' (known: a100-80g, cpu-dev, h100-80g, l4-24g, "
        "l40s-48g, t4-16g)"
    ]


def test_missing_model_folder_is_one_line_and_non_zero(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    result = serve("run", "--profile", "h100-80g", "--model", str(missing))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: model folder not found: {missing}"]


def test_folder_without_config_is_refused(tmp_path: Path) -> None:
    result = serve("run", "--profile", "cpu-dev", "--model", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: model folder {tmp_path} has no config.json"]


@pytest.mark.parametrize("to_group", [False, True], ids=["to-serve-run", "to-its-group"])
@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda sig: sig.name)
def test_run_waits_for_health_then_a_stop_signal_stops_the_whole_tree(
    tmp_path: Path, checkpoint: Path, sig: signal.Signals, to_group: bool
) -> None:
    proc = start_stub_run(tmp_path, checkpoint, "serve")
    try:
        out = wait_for_output(tmp_path / "stdout", "serve: ready")
        assert "stub: starting with --model" in out  # the engine's output is echoed
        assert "phi-3.5-vision at http://127.0.0.1:" in out
        pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
        tree = descendants(proc.pid)
        assert set(pids) <= tree and all(alive(p) for p in pids)
        if to_group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
    left = wait_gone(tree, within=10)
    assert left == [], describe(left)  # the engine and its own child both went
    assert "serve: stopped" in (tmp_path / "stdout").read_text()
    assert (tmp_path / "stderr").read_text() == ""


def test_the_engine_stops_when_serve_run_is_killed(tmp_path: Path, checkpoint: Path) -> None:
    """SIGKILL runs no handler: the engine learns of it from Linux (``serve.lifeline``)."""
    proc = start_stub_run(tmp_path, checkpoint, "serve")
    try:
        wait_for_output(tmp_path / "stdout", "serve: ready")
        tree = descendants(proc.pid)
        assert len(tree) >= 2, describe(tree)
        proc.kill()
        proc.wait(timeout=10)
        left = wait_gone(tree, within=10)
        assert left == [], describe(left)
    finally:
        proc.kill()


def test_an_engine_killed_outright_takes_its_children_and_serve_run_along(
    tmp_path: Path, checkpoint: Path
) -> None:
    proc = start_stub_run(tmp_path, checkpoint, "serve")
    try:
        wait_for_output(tmp_path / "stdout", "serve: ready")
        engine, child = (int(p) for p in (tmp_path / "pids").read_text().split())
        os.kill(engine, signal.SIGKILL)  # its child, like vLLM's engine core, is not told
        assert proc.wait(timeout=60) == 1
        assert wait_gone([child], within=10) == []
    finally:
        proc.kill()
    assert "error: vLLM exited with code -9" in (tmp_path / "stderr").read_text()


def test_engine_dying_at_start_up_is_one_line_naming_the_cause(
    tmp_path: Path, checkpoint: Path
) -> None:
    proc = start_stub_run(tmp_path, checkpoint, "die")
    assert proc.wait(timeout=60) == 1
    assert (tmp_path / "stderr").read_text().splitlines() == [
        "error: vLLM exited with code 3 during start-up: ValueError: the stub refuses this model"
    ]


def test_start_up_timeout_stops_the_engine(tmp_path: Path, checkpoint: Path) -> None:
    proc = start_stub_run(tmp_path, checkpoint, "hang", "--startup-timeout", "3")
    assert proc.wait(timeout=60) == 1
    [line] = (tmp_path / "stderr").read_text().splitlines()
    assert line.startswith("error: vLLM did not answer http://127.0.0.1:")
    assert "with 200 within 3 s" in line
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert wait_gone(pids, within=10) == []


def test_real_vllm_failing_on_a_bogus_checkpoint_is_one_line(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus"
    bogus.mkdir()
    (bogus / "config.json").write_text(json.dumps({**TINY_CONFIG, "model_type": "nope"}))
    save_file({"lm_head.weight": torch.zeros(2, 2)}, str(bogus / "model.safetensors"))
    result = serve("run", "--profile", "cpu-dev", "--model", str(bogus), "--port", "1")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: vLLM exited with code 1 during start-up:")
    assert "model type `nope`" in line
    assert "Traceback" not in result.stderr


def test_tiny_builds_the_checkpoint_where_asked(tmp_path: Path) -> None:
    result = serve("tiny", "--out", str(tmp_path / "tiny"))
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == (tmp_path / "tiny").resolve()
    assert json.loads((tmp_path / "tiny" / "config.json").read_text())["num_hidden_layers"] == 2


def test_health_url_polls_wildcard_binds_on_loopback() -> None:
    assert health_url("0.0.0.0", 8000) == "http://127.0.0.1:8000/health"
    assert health_url("::", 8000) == "http://[::1]:8000/health"
    assert health_url("10.0.0.5", 80) == "http://10.0.0.5:80/health"


def test_failure_reason_skips_the_generic_last_line(tmp_path: Path) -> None:
    script = (
        "print('INFO loading'); print('KeyError: \\'img_processor\\''); "
        "print('RuntimeError: Engine core initialization failed. See root cause above.')"
    )
    with open(os.devnull, "wb") as devnull:
        engine = ServerProcess([sys.executable, "-c", script], name="vLLM", echo=devnull)
        engine.start()
        assert engine.wait() == 0
        assert engine.failure_reason() == "KeyError: 'img_processor'"
        assert engine.last_lines()[0] == "INFO loading"


def test_kv_settings_come_from_flags_or_the_environment() -> None:
    env = {"SERVE_KV_CACHE_MEMORY_BYTES": "40000000000", "SERVE_MAX_NUM_SEQS": ""}
    words = shlex.split(serve("args", "--profile", "h100-80g", env=env).stdout)
    assert words[words.index("--kv-cache-memory-bytes") + 1] == "40000000000"
    assert "--gpu-memory-utilization" not in words  # one KV budget replaces the other
    assert words[words.index("--max-num-seqs") + 1] == "64"  # empty variable = unset
    flags = serve("args", "--profile", "l4-24g", "--max-num-seqs", "4").stdout
    assert "--max-num-seqs 4" in flags


def test_impossible_kv_override_is_one_line_error() -> None:
    result = serve("args", "--profile", "h100-80g", "--max-model-len", "2000")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "max_model_len is 2,000" in result.stderr
    bad = serve("args", "--profile", "cpu-dev", env={"SERVE_MAX_NUM_SEQS": "abc"})
    assert bad.returncode != 0 and "SERVE_MAX_NUM_SEQS" in bad.stderr
