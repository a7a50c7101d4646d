"""The gateway answers as its own OpenAPI document says: a schemathesis run over
``/openapi.json`` against the stub upstream, about a minute of generated requests.

The checks: no 5xx (``not_a_server_error``), every status, content type and body documented
(``status_code_conformance``, ``content_type_conformance``, ``response_schema_conformance``),
and every route that declares the bearer key refuses a request without one
(``ignored_auth``). The key used for the rest has limits high enough that 429 stays rare, but
429 is documented wherever a key is checked, so it would not fail the run either.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gateway_server import GatewayServer, Proc, start_gateway

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "ignored_auth",
)
BUDGET_S = 60


@pytest.fixture(scope="module")
def conformance_gateway(
    stub_upstream: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    """Production settings in front of the stub, image fetches included (they are refused)."""
    gw = start_gateway(stub_upstream.base_url, tmp_path_factory.mktemp("gw-openapi"))
    yield gw
    gw.stop()


def test_the_gateway_conforms_to_its_openapi_document(
    conformance_gateway: GatewayServer, tmp_path: Path
) -> None:
    key = conformance_gateway.create_key("schemathesis", rpm=1_000_000, max_concurrent=64)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        conformance_gateway.base_url + "/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--header",
        f"Authorization: Bearer {key}",
        "--max-time",
        str(BUDGET_S),
        "--seed",
        "1",
        # one worker: hypothesis describes strategies with ast.parse, which CPython 3.11 does not
        # run safely in two threads at once ("AST constructor recursion depth mismatch")
        "--workers",
        "1",
        "--request-timeout",
        "10",
    ]
    # schemathesis keeps its state (.hypothesis, .schemathesis) in the working directory
    run = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=BUDGET_S * 4
    )
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-4_000:]
    totals = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert totals is not None, run.stdout[-4_000:]
    generated, passed = (int(n) for n in totals.groups())
    assert generated == passed and generated >= 100, run.stdout[-4_000:]
