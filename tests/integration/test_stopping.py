"""Stopping leaves no process behind.

``python -m gateway serve`` (one process, and ``--workers 2``) and ``make dev`` must stop their
whole process tree on SIGINT (Ctrl-C), SIGTERM (a service manager, a CI runner) and SIGHUP (a
closed terminal), whether the signal reaches the parent alone or its whole process group, and
no child may outlive a parent killed outright. ``python -m serve run`` gets the same cases
against a stand-in engine in ``tests/unit/test_serve_cli.py``.

Every tree is read from ``/proc`` before the signal and must be gone after it. The cheap cases
run the real launchers around stand-ins: the gateway in front of the stub upstream, and make
dev's tree (make, the stack, ``serve run``, an engine with a child of its own, the real gateway)
with ``tests.support.standins`` where vLLM would be. Two cases start the real engine (a minute
and 4 GB each): ``make dev`` losing its terminal, and ``serve run`` killed outright.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from serve.stopsignals import STOP_SIGNALS
from tests.support.gateway_server import Proc, gateway_env, start_gateway, start_stub
from tests.support.procs import free_port, spawn, stop_process, tail, wait_until_healthy
from tests.support.proctree import descendants, describe, wait_gone
from tests.support.standins import write_checkpoint

TARGETS = ["to-parent", "to-group"]


@pytest.fixture(scope="module")
def stub_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    stub = start_stub(tmp_path_factory.mktemp("stub"))
    yield stub
    stub.stop()


def _send(proc: subprocess.Popen[bytes], sig: signal.Signals, target: str) -> None:
    """``sig`` to ``proc`` alone, or to its process group (it leads one)."""
    if target == "to-group":
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)


def _assert_all_gone(proc: subprocess.Popen[bytes], tree: set[int], within: float) -> None:
    try:
        proc.wait(timeout=within)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the parent did not exit within {within:g} s:\n{describe(tree)}")
    left = wait_gone(tree, within)
    assert left == [], f"left running:\n{describe(left)}"


def _wait_for_tree(root: int, at_least: int, within: float = 60) -> set[int]:
    """``root``'s descendants once there are ``at_least`` of them."""
    deadline = time.monotonic() + within
    while len(tree := descendants(root)) < at_least:
        assert time.monotonic() < deadline, f"only these started:\n{describe(tree)}"
        time.sleep(0.1)
    return tree


def _wait_for_line(
    log: Path, text: str, proc: subprocess.Popen[bytes], within: float, count: int = 1
) -> None:
    """Until ``text`` is in ``log`` ``count`` times; fails early if ``proc`` exits."""
    deadline = time.monotonic() + within
    while log.read_text(errors="replace").count(text) < count:
        assert proc.poll() is None, f"exited with {proc.returncode}:\n{tail(log, 60)}"
        assert time.monotonic() < deadline, f"no {text!r} within {within:g} s:\n{tail(log, 60)}"
        time.sleep(0.2)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda sig: sig.name)
@pytest.mark.parametrize("workers", [1, 2], ids=["1-worker", "2-workers"])
def test_a_stop_signal_stops_the_gateway_and_its_workers(
    stub_upstream: Proc, tmp_path: Path, workers: int, sig: signal.Signals, target: str
) -> None:
    """Gracefully: each uvicorn process finishes its in-flight requests and says so (SIGHUP's
    default action would end it mid-request)."""
    gw = start_gateway(stub_upstream.base_url, tmp_path, GATEWAY_WORKERS=str(workers))
    try:
        _wait_for_line(gw.log, "Application startup complete", gw.proc, 60, count=workers)
        tree = descendants(gw.proc.pid) | {gw.proc.pid}
        assert len(tree) >= workers, describe(tree)
        _send(gw.proc, sig, target)
        _assert_all_gone(gw.proc, tree, within=30)
    finally:
        gw.stop()
    assert gw.log.read_text().count("Finished server process") == workers, tail(gw.log)


def _start_dev_standin(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """make dev's tree with the stand-in engine: a Makefile whose ``dev`` runs the stack, as
    the real one does, in its own process group (a terminal's foreground job)."""
    makefile = tmp_path / "Makefile"
    stack = f"{sys.executable} -m tests.support.standins stack"
    ports = f"--engine-port {free_port()} --gateway-port {free_port()}"
    makefile.write_text(f"dev:\n\t{stack} {ports}\n")
    env = gateway_env(tmp_path / "keys.db", STANDIN_MODEL=str(write_checkpoint(tmp_path / "ckpt")))
    log = tmp_path / "dev.log"
    proc = spawn(["make", "--no-print-directory", "-f", str(makefile), "dev"], log, env)
    try:
        _wait_for_line(log, "The stack is up", proc, within=120)
    except BaseException:
        stop_process(proc)
        raise
    return proc, log


def _stack_of(tree: set[int]) -> int:
    [stack] = [pid for pid in tree if b"standins\0stack" in _cmdline(pid)]
    return stack


@pytest.mark.parametrize("target", ["to-the-stack", "to-group"])
@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda sig: sig.name)
def test_a_stop_signal_stops_make_dev(tmp_path: Path, sig: signal.Signals, target: str) -> None:
    """The group is make's (a terminal's foreground job); the parent of the tree is the stack
    that make runs. (GNU make given SIGINT or SIGHUP on its own waits for its recipe to end,
    as it does for any target; SIGTERM it passes on: see the next test.)"""
    proc, log = _start_dev_standin(tmp_path)
    try:
        # the stack, serve run, the engine and its child, the gateway
        tree = _wait_for_tree(proc.pid, 5) | {proc.pid}
        if target == "to-group":
            os.killpg(proc.pid, sig)
        else:
            os.kill(_stack_of(tree), sig)
        _assert_all_gone(proc, tree, within=60)
    finally:
        stop_process(proc)
    assert "Traceback" not in log.read_text(), tail(log, 60)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=lambda sig: sig.name)
@pytest.mark.parametrize("victim", ["make", "the-stack"])
def test_make_dev_stops_when_make_or_the_stack_is_terminated_or_killed(
    tmp_path: Path, victim: str, sig: signal.Signals
) -> None:
    """make passes SIGTERM on to the stack, twice with a group signal. SIGKILL runs no
    handler: each child learns of its parent's death from Linux."""
    proc, _ = _start_dev_standin(tmp_path)
    try:
        tree = _wait_for_tree(proc.pid, 5) | {proc.pid}
        os.kill(proc.pid if victim == "make" else _stack_of(tree), sig)
        _assert_all_gone(proc, tree, within=60)
    finally:
        stop_process(proc)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def _engine_env(tmp_path: Path) -> dict[str, str]:
    env = gateway_env(tmp_path / "keys.db")
    env.pop("VISION_STACK_ENGINE_URL", None)  # these tests need an engine of their own
    return env


def _assert_engine_in(tree: set[int]) -> None:
    engine = [pid for pid in tree if b"vllm.entrypoints.openai.api_server" in _cmdline(pid)]
    assert engine and len(tree) > 3, f"no vLLM with its own processes:\n{describe(tree)}"


@pytest.mark.engine
def test_make_dev_with_the_real_engine_stops_when_its_terminal_closes(tmp_path: Path) -> None:
    """SIGHUP to the whole group once left vLLM and the gateway running with no parent."""
    ports = f"--engine-port {free_port()} --gateway-port {free_port()}"
    log = tmp_path / "dev.log"
    # -o setup: the environment is there already; never reinstall it from a test
    make = ["make", "--no-print-directory", "-o", "setup", "dev", f"DEV_ARGS={ports}"]
    proc = spawn(make, log, _engine_env(tmp_path))
    try:
        _wait_for_line(log, "The stack is up", proc, within=600)
        tree = descendants(proc.pid) | {proc.pid}
        _assert_engine_in(tree)
        os.killpg(proc.pid, signal.SIGHUP)
        _assert_all_gone(proc, tree, within=120)
    finally:
        stop_process(proc)


@pytest.mark.engine
def test_the_real_engine_stops_when_serve_run_is_killed(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    cmd = [sys.executable, "-m", "serve", "run", "--profile", "cpu-dev", "--port", str(port)]
    proc = spawn(cmd, log, _engine_env(tmp_path))
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}/health", proc, 600, log)
        tree = descendants(proc.pid) | {proc.pid}
        _assert_engine_in(tree)
        proc.kill()
        _assert_all_gone(proc, tree, within=120)
    finally:
        stop_process(proc)
