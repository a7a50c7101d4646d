"""The repair pass through the real gateway, against a stub that answers wrongly, then rightly.

A fault-style test: the random-weight engine cannot be made to answer an invoice wrongly and
then correctly, so the stub (``stub-script``) plays a model that does. The gateway names the
stub's model (``GATEWAY_MODEL_NAME=stub-script``) in the requests it builds, and the stub
records what each request asked for.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import schemas
from tests.support.gateway_server import GatewayServer, Proc, start_gateway
from tests.support.gateway_stub import SCRIPT_LOGPROB
from tests.support.images import data_url, image_bytes, make_image

IMAGE = data_url(make_image(320, 240, seed=9))
RIGHT = schemas.get("invoice").example
WRONG = RIGHT.model_copy(update={"total": 240.0})


@pytest.fixture(scope="module")
def gateway(
    stub_upstream: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    gw = start_gateway(
        stub_upstream.base_url,
        tmp_path_factory.mktemp("gw-repair"),
        GATEWAY_MODEL_NAME="stub-script",
    )
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def api(gateway: GatewayServer) -> Iterator[httpx.Client]:
    key = gateway.create_key("repair", scopes=["extract"])
    with httpx.Client(base_url=gateway.base_url, headers={"authorization": f"Bearer {key}"}) as c:
        yield c


def script(stub: Proc, *answers: Any) -> None:
    texts = [a if isinstance(a, str) else a.model_dump_json() for a in answers]
    httpx.post(stub.base_url + "/stub/script", content=json.dumps(texts)).raise_for_status()


def seen(stub: Proc) -> list[dict[str, Any]]:
    return list(httpx.get(stub.base_url + "/stub/seen").json())


def extract(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    r = api.post("/v1/extract/invoice", json={"image_url": IMAGE, "num_crops": 4, **fields})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_wrong_then_right_returns_the_right_answer_and_both_checks(
    api: httpx.Client, stub_upstream: Proc
) -> None:
    script(stub_upstream, WRONG, RIGHT)
    body = extract(api, verify="repair")
    asked = seen(stub_upstream)
    assert [a["num_crops"] for a in asked] == [4, 16]  # the schema's largest useful crops
    assert "the total reads 240.0" in asked[1]["text"] and "240.0" not in asked[0]["text"]
    assert all(a["logprobs"] is True for a in asked)
    assert body["data"]["total"] == RIGHT.total and body["review"] is False
    repair = body["repair"]
    assert repair["chosen"] == 1 and [a["num_crops"] for a in repair["attempts"]] == [4, 16]
    first_checks = {c["name"]: c["status"] for c in repair["attempts"][0]["checks"]}
    assert first_checks["amounts.total"] == "fail"
    assert {c["status"] for c in body["checks"]} == {"pass"}
    tokens = [a["usage"]["completion_tokens"] for a in repair["attempts"]]
    assert body["usage"]["completion_tokens"] == sum(tokens)
    assert body["usage"]["prompt_tokens"] == 200
    # every scripted character has the same logprob, so every field scores exactly that
    assert set(body["confidence"].values()) == {round(math.exp(SCRIPT_LOGPROB), 6)}


def test_wrong_every_time_stops_after_one_extra_call(
    api: httpx.Client, stub_upstream: Proc
) -> None:
    script(stub_upstream, WRONG, WRONG, RIGHT, RIGHT)
    body = extract(api, verify="repair")
    assert len(seen(stub_upstream)) == 2
    assert body["review"] is True and body["repair"]["chosen"] == 0
    assert body["data"]["total"] == WRONG.total


def test_without_repair_one_call_and_the_failure_is_reported(
    api: httpx.Client, stub_upstream: Proc
) -> None:
    script(stub_upstream, WRONG, RIGHT)
    body = extract(api)
    assert len(seen(stub_upstream)) == 1 and body["repair"] is None
    failed = [c for c in body["checks"] if c["status"] == "fail"]
    assert [c["name"] for c in failed] == ["amounts.total", "amounts.amount_due"]
    assert failed[0]["fields"] == ["/subtotal", "/charges/0/amount", "/tax", "/total"]
    assert body["review"] is True


def test_confidence_false_asks_for_no_logprobs(api: httpx.Client, stub_upstream: Proc) -> None:
    script(stub_upstream, RIGHT)
    body = extract(api, confidence=False)
    assert seen(stub_upstream)[0]["logprobs"] in (None, False)
    assert body["confidence"] is None and body["review"] is False


def test_review_threshold_per_request(api: httpx.Client, stub_upstream: Proc) -> None:
    script(stub_upstream, RIGHT, RIGHT)
    assert extract(api, review_threshold=0.96)["review"] is True  # every field scores 0.951
    assert extract(api, review_threshold=0.95)["review"] is False


def test_repair_in_a_multi_schema_request(api: httpx.Client, stub_upstream: Proc) -> None:
    script(stub_upstream, WRONG, RIGHT)
    r = api.post(
        "/v1/extract",
        json={"image_url": IMAGE, "schemas": ["invoice"], "num_crops": 4, "verify": "repair"},
    )
    assert r.status_code == 200, r.text
    outcome = r.json()["results"]["invoice"]
    assert outcome["data"]["total"] == RIGHT.total and outcome["review"] is False
    assert outcome["repair"]["chosen"] == 1 and len(seen(stub_upstream)) == 2


def test_trust_fields_as_multipart_form_fields(api: httpx.Client, stub_upstream: Proc) -> None:
    script(stub_upstream, WRONG, RIGHT)
    files = {"image": ("page.png", image_bytes(make_image(320, 240, seed=9)), "image/png")}
    fields = {"num_crops": "4", "verify": "repair", "confidence": "false"}
    r = api.post("/v1/extract/invoice", files=files, data=fields)
    assert r.status_code == 200, r.text
    assert [a["logprobs"] for a in seen(stub_upstream)] == [None, None]
    assert r.json()["repair"]["chosen"] == 1 and r.json()["confidence"] is None
