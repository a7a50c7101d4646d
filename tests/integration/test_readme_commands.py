"""The README's commands, run as written, against a gateway set up the way ``make dev`` sets
it up, in front of the session's engine.

A newcomer copies commands from the README one by one. This takes the same lines from its code
blocks (only ``localhost:8080`` becomes this gateway's address, and the files they name are
made here), runs them with bash from a scratch folder laid out like the checkout, and checks
what they print. The gateway gets ``serve.stack.gateway_env``'s environment, the one ``make
dev`` gives it: its key store, its image limit and the dev-only extraction sampling. So a key
made with the README's command must be one this gateway knows, and the answers must have the
shapes the README documents.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serve.stack import gateway_env
from tests.support.documents import invoice_pages, pdf_bytes
from tests.support.gateway_server import GatewayServer, start_gateway
from tests.support.images import image_bytes, make_image
from tests.support.readme import README, command, documented, top_level_names

pytestmark = pytest.mark.engine

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the checkout for the commands: ``.venv`` and the files the
    README's examples upload."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / ".venv").symlink_to(REPO / ".venv")
    (folder / "invoice.jpg").write_bytes(image_bytes(make_image(1024, 768, seed=11), "JPEG"))
    (folder / "invoice.pdf").write_bytes(pdf_bytes(invoice_pages(2)))
    return folder


@pytest.fixture(scope="module")
def dev_gateway(vllm_engine: Any, checkout: Path) -> Iterator[GatewayServer]:
    """The gateway as ``make dev`` starts it for the ``cpu-dev`` profile, rooted in
    ``checkout`` instead of the repository."""
    env = gateway_env("cpu-dev", vllm_engine.base_url, {}, repo=checkout)
    upstream = env.pop("GATEWAY_UPSTREAM_URL")
    (checkout / ".cache").mkdir(exist_ok=True)
    gw = start_gateway(upstream, checkout, **env)
    yield gw
    gw.stop()


def run(line: str, folder: Path, gateway: GatewayServer, **env: str) -> str:
    """One README command through bash, from ``folder``, against ``gateway``."""
    line = line.replace("localhost:8080", gateway.base_url.removeprefix("http://"))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "OPENAI_"))}
    done = subprocess.run(
        ["bash", "-c", line],
        cwd=folder,
        env={**clean, "PYTHONPATH": str(REPO), **env},  # this checkout's code, wherever run
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (line, done.stderr)
    return done.stdout


@pytest.fixture(scope="module")
def key(dev_gateway: GatewayServer, checkout: Path) -> str:
    """A key made with the README's command for ``make dev``'s gateway."""
    made = run(command("GATEWAY_KEYS_DB=", "gateway keys create", "alice"), checkout, dev_gateway)
    return made.strip()


def test_a_key_made_as_the_readme_says_works_with_the_banners_curl(
    dev_gateway: GatewayServer, checkout: Path, key: str
) -> None:
    assert key.startswith("sk-")
    banner_curl = command("curl -s $OPENAI_BASE_URL/models")
    base = dev_gateway.base_url + "/v1"
    models = json.loads(
        run(banner_curl, checkout, dev_gateway, OPENAI_BASE_URL=base, OPENAI_API_KEY=key)
    )
    assert [m["id"] for m in models["data"]] == ["phi-3.5-vision"], models


def test_the_schema_list(dev_gateway: GatewayServer, checkout: Path, key: str) -> None:
    listed = json.loads(run(command("/v1/schemas -H"), checkout, dev_gateway, KEY=key))
    assert {"invoice", "passport", "image_insight"} <= {s["name"] for s in listed["data"]}


def test_an_upload_has_the_documented_shape(
    dev_gateway: GatewayServer, checkout: Path, key: str
) -> None:
    answer = json.loads(
        run(command("/v1/extract/invoice", "invoice.jpg"), checkout, dev_gateway, KEY=key)
    )
    assert answer.get("object") == "extraction", answer
    assert sorted(answer) == sorted(documented("A success is"))


def test_a_verification_has_the_documented_shape(
    dev_gateway: GatewayServer, checkout: Path, key: str
) -> None:
    answer = json.loads(run(command("/v1/verify/passport"), checkout, dev_gateway, KEY=key))
    assert answer.get("object") == "verification", answer
    assert sorted(answer) == sorted(documented("or a person's correction) and returns"))
    assert {c["name"]: c["status"] for c in answer["checks"]}  # the checks ran


def test_a_preview_has_the_documented_shape(
    dev_gateway: GatewayServer, checkout: Path, key: str
) -> None:
    answer = json.loads(run(command("/v1/documents/preview"), checkout, dev_gateway, KEY=key))
    # the README prints the answer as a comment under the command
    after = README[README.index("/v1/documents/preview -H") :]
    printed = after.split("\n# ", 1)[1].split("\n```", 1)[0]
    shape = " ".join(line.lstrip("# ") for line in printed.splitlines())
    assert sorted(answer) == sorted(top_level_names(shape)), shape
    first = answer["pages"][0]
    assert answer["page_count"] == 2 and max(first["width"], first["height"]) == 128
