"""The session's engine-backed gateway, with a key of its own, for the Locust smoke run."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.support.engine import Engine
from tests.support.gateway_server import GatewayServer


@dataclass(frozen=True)
class Gateway:
    base_url: str
    api_key: str
    engine_url: str
    """The engine behind it, for vLLM's own ``/metrics``."""


@pytest.fixture(scope="module")
def gateway(vllm_engine: Engine, engine_gateway: GatewayServer) -> Gateway:
    key = engine_gateway.create_key("loadtest-smoke")
    return Gateway(engine_gateway.base_url, key, vllm_engine.base_url)
