"""``python -m gateway serve --workers 2`` as a real process tree in front of the stub upstream.

Which worker answered is read from ``x-request-id``: its first 8 characters are a random
per-process prefix. Connections are opened in a burst, as a load balancer or a pooled client
opens them: that is where workers sharing one listening socket left one of them idle.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway_server import GatewayServer, Proc, start_gateway
from tests.support.proctree import alive

BURST = 32
"""Connections per burst. The kernel spreads them by address hash, so a worker getting fewer
than 4 of 32 has a chance of about 3 in a million per burst."""


@pytest.fixture(scope="module")
def two_workers(
    stub_upstream: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    gw = start_gateway(
        stub_upstream.base_url, tmp_path_factory.mktemp("gw-2w"), GATEWAY_WORKERS="2"
    )
    yield gw
    gw.stop()


def _workers(pid: int) -> set[int]:
    """The supervisor's worker processes (multiprocessing also starts a resource tracker)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                found.add(int(child))
    return found


async def _one(base_url: str, key: str) -> tuple[int, str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:  # its own connection
        r = await client.get("/v1/models", headers={"authorization": f"Bearer {key}"})
        return r.status_code, r.headers["x-request-id"][:8]


def _burst(gw: GatewayServer, key: str) -> tuple[Counter[int], Counter[str]]:
    """``BURST`` requests on as many connections, opened at once: (statuses, answers per
    worker)."""

    async def run() -> list[tuple[int, str]]:
        return await asyncio.gather(*(_one(gw.base_url, key) for _ in range(BURST)))

    answers = asyncio.run(run())
    return Counter(s for s, _ in answers), Counter(w for _, w in answers)


def _wait_for_both(gw: GatewayServer, key: str, timeout: float = 60) -> Counter[str]:
    """A burst that reached two workers. /health answers as soon as one worker is up; the
    other joins the kernel's spread once it listens."""
    deadline = time.monotonic() + timeout
    while True:
        statuses, per_worker = _burst(gw, key)
        assert statuses == Counter({200: BURST}), statuses
        if len(per_worker) == 2 or time.monotonic() > deadline:
            return per_worker
        time.sleep(0.5)


def test_connections_opened_together_spread_over_both_workers(two_workers: GatewayServer) -> None:
    key = two_workers.create_key("spread")
    per_worker = _wait_for_both(two_workers, key)
    assert len(per_worker) == 2, f"one worker took every connection: {per_worker}"
    _, per_worker = _burst(two_workers, key)
    assert len(per_worker) == 2 and min(per_worker.values()) >= 4, per_worker


def test_a_key_revoked_once_is_refused_by_every_worker(two_workers: GatewayServer) -> None:
    key = two_workers.create_key("revoked-everywhere")
    _wait_for_both(two_workers, key)
    done = two_workers.cli("keys", "revoke", "revoked-everywhere")
    assert done.returncode == 0, done.stderr
    time.sleep(1.05)
    statuses, per_worker = _burst(two_workers, key)
    assert statuses == Counter({401: BURST}), statuses
    assert len(per_worker) == 2, per_worker


def test_a_dead_worker_is_replaced(two_workers: GatewayServer) -> None:
    key = two_workers.create_key("survivor")
    before = _wait_for_both(two_workers, key)
    workers = _workers(two_workers.proc.pid)
    assert len(workers) == 2, workers
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while _workers(two_workers.proc.pid) in (workers, workers - {victim}):
        assert time.monotonic() < deadline, "no new worker was started"
        time.sleep(0.2)
    assert two_workers.proc.poll() is None, "the supervisor died with its worker"
    after = _wait_for_both(two_workers, key)
    assert len(after) == 2 and set(after) != set(before), (before, after)
    assert "exited with -9; starting another" in two_workers.log.read_text()


def test_sigterm_to_the_supervisor_stops_every_worker(stub_upstream: Proc, tmp_path: Path) -> None:
    gw = start_gateway(stub_upstream.base_url, tmp_path, GATEWAY_WORKERS="2")
    try:
        key = gw.create_key("bye")
        _wait_for_both(gw, key)
        workers = _workers(gw.proc.pid)
        assert len(workers) == 2, workers
        gw.proc.send_signal(signal.SIGTERM)  # the supervisor only, not its process group
        assert gw.proc.wait(timeout=30) == 0
        assert not [pid for pid in workers if alive(pid)]
        assert "stopping 2 gateway workers" in gw.log.read_text()
    finally:
        gw.stop()


def test_workers_stop_when_the_supervisor_is_killed(stub_upstream: Proc, tmp_path: Path) -> None:
    """An orphan would keep serving on the shared port, next to a restarted gateway."""
    gw = start_gateway(stub_upstream.base_url, tmp_path, GATEWAY_WORKERS="2")
    try:
        _wait_for_both(gw, gw.create_key("orphan"))
        workers = _workers(gw.proc.pid)
        assert len(workers) == 2, workers
        gw.proc.kill()  # SIGKILL: no handler runs, no worker is told anything by the supervisor
        gw.proc.wait(timeout=10)
        deadline = time.monotonic() + 30
        while [pid for pid in workers if alive(pid)]:
            assert time.monotonic() < deadline, "workers outlived their supervisor"
            time.sleep(0.2)
    finally:
        gw.stop()
