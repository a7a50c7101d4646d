"""Real processes for the gateway integration tests: stub upstream, gateways, image server.

One stub and one stub-backed gateway per module; the engine-backed gateway sits in front of
the session's ``vllm_engine`` (see ``tests/conftest.py``), shared by the whole session.
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.support.gateway_server import GatewayServer, Proc, start_gateway, start_stub


@pytest.fixture(scope="module")
def stub_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    stub = start_stub(tmp_path_factory.mktemp("stub"))
    yield stub
    stub.stop()


@pytest.fixture(scope="module")
def stub_gateway(
    stub_upstream: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    """Gateway in front of the stub, default (production) SSRF settings, short timeouts."""
    gw = start_gateway(
        stub_upstream.base_url,
        tmp_path_factory.mktemp("gw-stub"),
        GATEWAY_UPSTREAM_READ_TIMEOUT_S="2",
        GATEWAY_MAX_BODY_BYTES="2000000",
        GATEWAY_MAX_IMAGE_BYTES="500000",
        GATEWAY_MAX_IMAGE_PIXELS="4000000",
        GATEWAY_FETCH_TIMEOUT_S="3",
    )
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def key(engine_gateway: GatewayServer, request: pytest.FixtureRequest) -> str:
    """A key on the engine-backed gateway, one per test module (named after it)."""
    return engine_gateway.create_key(request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture
def client(engine_gateway: GatewayServer, key: str) -> Iterator[openai.OpenAI]:
    """The openai SDK on the engine-backed gateway; closed after each test."""
    c = openai.OpenAI(
        base_url=engine_gateway.base_url + "/v1", api_key=key, max_retries=0, timeout=120
    )
    yield c
    c.close()
