"""``gateway serve`` start-up checks and the worker supervisor's refusal to restart-loop.

The supervisor's serving side (spread, revocation, replacing a dead worker, SIGTERM) is
tested against real processes in ``tests/integration/gateway/test_gateway_workers.py``.
"""

from __future__ import annotations

import logging
import socket
import subprocess
from pathlib import Path

import pytest

from gateway.workers import bind_socket, run_workers
from tests.support.gateway_server import gateway_env, run_gateway


def _serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_gateway(gateway_env(tmp_path / "keys.db", **env), "serve", *args)


def test_reuse_port_sockets_share_a_port_that_others_cannot_take() -> None:
    holder = bind_socket("127.0.0.1", 0, listen=False)
    port = holder.getsockname()[1]
    try:
        with (
            bind_socket("127.0.0.1", port, listen=True) as a,
            bind_socket("127.0.0.1", port, listen=True) as b,
        ):
            assert a.getsockname() == b.getsockname()
            with socket.socket() as other, pytest.raises(OSError):
                other.bind(("127.0.0.1", port))
    finally:
        holder.close()


@pytest.mark.parametrize("count", ["0", "-1", "two"])
def test_a_bad_worker_count_is_refused(tmp_path: Path, count: str) -> None:
    done = _serve(tmp_path, "--workers", count)
    assert done.returncode == 2
    assert "--workers: must be a whole number of at least 1" in done.stderr, done.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_unusable_key_store_is_one_line(tmp_path: Path, workers: str) -> None:
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    done = _serve(
        tmp_path, "--workers", workers, "--port", "0", GATEWAY_KEYS_DB=str(not_a_folder / "k.db")
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: cannot open the key store {not_a_folder}/k.db"), (
        done.stderr
    )
    assert "Traceback" not in done.stderr + done.stdout


def test_a_taken_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve(tmp_path, "--workers", "2", "--port", str(port))
    assert done.returncode == 1
    assert f"error: cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_worker_that_cannot_start_stops_the_supervisor(caplog: pytest.LogCaptureFixture) -> None:
    """Real worker processes whose app does not import: the supervisor returns 1 after the
    first failed start instead of starting workers again and again."""
    options = {"app": "tests.support.no_such_module:app", "log_level": "info"}
    supervisor_log = logging.getLogger("uvicorn.error")
    level = supervisor_log.level
    try:
        with caplog.at_level(logging.INFO, logger="uvicorn.error"):
            assert run_workers(options, "127.0.0.1", 0, 2) == 1
    finally:
        supervisor_log.setLevel(level)
    messages = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("starting gateway worker") for m in messages) == 2, messages
    assert any("while starting; stopping" in m for m in messages), messages
