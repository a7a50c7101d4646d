"""Helpers for tests that drive several real gateway processes over loopback."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx

from tests.support.gateway_server import GatewayServer, Proc

__all__ = ["CHAT", "HoldingRequests", "chat", "error_code", "wait_for"]

CHAT = {"model": "stub", "messages": [{"role": "user", "content": "hi"}]}
HOLD = {"model": "stub-hold", "messages": [{"role": "user", "content": "wait"}]}


def chat(gw: GatewayServer, key: str, body: dict[str, Any] = CHAT) -> httpx.Response:
    return httpx.post(
        gw.base_url + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=40,
    )


def error_code(response: httpx.Response) -> str | None:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


def wait_for(check: Callable[[], bool], what: str, timeout: float = 10.0) -> float:
    """Poll ``check`` every 20 ms; the seconds it took, or fail naming ``what``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class HoldingRequests:
    """Requests that the stub holds open (``stub-hold``) until ``release``."""

    def __init__(self, stub: Proc) -> None:
        self.stub = stub
        self.pool = ThreadPoolExecutor(max_workers=8)
        self.sent: list[Future[httpx.Response]] = []

    def held(self) -> int:
        return int(httpx.get(self.stub.base_url + "/stub/events").json()["held"])

    def hold(self, gw: GatewayServer, key: str, count: int = 1) -> None:
        """Send ``count`` held requests through ``gw`` and wait until the stub holds them."""
        before = self.held()
        for _ in range(count):
            self.sent.append(self.pool.submit(chat, gw, key, HOLD))
        wait_for(lambda: self.held() >= before + count, f"{count} held request(s)")

    def release(self) -> list[int]:
        """Let the stub answer; the held requests' statuses (a killed gateway's: 0)."""
        httpx.get(self.stub.base_url + "/stub/release")
        statuses = []
        for future in self.sent:
            try:
                statuses.append(future.result(timeout=40).status_code)
            except httpx.HTTPError:
                statuses.append(0)
        self.sent.clear()
        return statuses

    def close(self) -> None:
        self.release()
        self.pool.shutdown(wait=True)
