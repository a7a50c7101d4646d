"""Confidence, checks, review, verification and repair through the real gateway and engine.

Random weights make the answers nonsense, but the plumbing is real: every leaf of every
schema's ``data`` must get a confidence in [0, 1] from vLLM's own logprobs, every declared
check must report, and a repair pass must make at most one extra engine call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import schemas
from tests.support.gateway_server import GatewayServer
from tests.support.images import data_url, make_image

pytestmark = pytest.mark.engine

IMAGE_URL = data_url(make_image(640, 480, seed=12))
SAMPLED = {"temperature": 1.0, "seed": 7}
"""Greedy decoding of random weights fills every bound; sampling ends lists."""


def pointers(value: Any, path: str = "") -> Iterator[str]:
    """Every leaf of parsed JSON (scalars and empty containers), as RFC 6901 pointers."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from pointers(child, f"{path}/{key.replace('~', '~0').replace('/', '~1')}")
    elif isinstance(value, list) and value:
        for index, child in enumerate(value):
            yield from pointers(child, f"{path}/{index}")
    else:
        yield path


@pytest.fixture(scope="module")
def api(engine_gateway: GatewayServer) -> Iterator[httpx.Client]:
    key = engine_gateway.create_key("trust-tests", scopes=["extract"])
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=engine_gateway.base_url, headers=headers, timeout=300) as c:
        yield c


@pytest.mark.parametrize("name", schemas.names())
def test_every_leaf_of_every_schema_has_a_confidence(api: httpx.Client, name: str) -> None:
    r = api.post(f"/v1/extract/{name}", json={"image_url": IMAGE_URL, "num_crops": 4, **SAMPLED})
    assert r.status_code == 200, r.text
    body = r.json()
    confidence = body["confidence"]
    assert sorted(confidence) == sorted(pointers(body["data"]))
    assert all(isinstance(v, float | int) and 0.0 <= v <= 1.0 for v in confidence.values())
    spec = schemas.get(name)
    expected = [c.name for c in spec.run_checks(spec.model.model_validate(body["data"]))]
    assert [c["name"] for c in body["checks"]] == expected
    assert {c["status"] for c in body["checks"]} <= {"pass", "fail", "skipped"}
    failed = any(c["status"] == "fail" for c in body["checks"])
    unsure = any(v < 0.5 for v in confidence.values())
    assert body["review"] is (failed or unsure)  # the default threshold is 0.5
    assert body["repair"] is None


def test_confidence_off_and_threshold_zero(api: httpx.Client) -> None:
    r = api.post(
        "/v1/extract/table",
        json={"image_url": IMAGE_URL, "num_crops": 4, "confidence": False, **SAMPLED},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["confidence"] is None
    assert body["review"] is any(c["status"] == "fail" for c in body["checks"])


def _upstream_calls(api: httpx.Client) -> float:
    text = api.get("/metrics").text
    found = re.findall(r"^gateway_upstream_requests_total\{[^}]*\} ([0-9.e+]+)$", text, re.M)
    return sum(float(v) for v in found)


def test_repair_makes_at_most_one_extra_call(api: httpx.Client) -> None:
    before = _upstream_calls(api)
    r = api.post(
        "/v1/extract/passport",
        json={"image_url": IMAGE_URL, "num_crops": 4, "verify": "repair", **SAMPLED},
    )
    calls = _upstream_calls(api) - before
    assert r.status_code == 200, r.text
    body = r.json()
    failed_first = body["repair"] is not None
    assert calls == (2 if failed_first else 1)
    if not failed_first:
        assert all(c["status"] != "fail" for c in body["checks"])
    else:
        attempts = body["repair"]["attempts"]
        assert any(c["status"] == "fail" for c in attempts[0]["checks"])
        assert [a["num_crops"] for a in attempts] == [4, 16]
        total = sum(a["usage"]["total_tokens"] for a in attempts if a["usage"])
        assert body["usage"]["total_tokens"] == total


# -- POST /v1/verify/{name} ---------------------------------------------------------------


@pytest.mark.parametrize("name", schemas.names())
def test_verify_every_schema_example(api: httpx.Client, name: str) -> None:
    spec = schemas.get(name)
    r = api.post(f"/v1/verify/{name}", json=spec.example.model_dump(mode="json"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["schema"] == name and body["review"] is False
    assert [c["name"] for c in body["checks"]] == [c.name for c in spec.run_checks(spec.example)]
    assert "fail" not in {c["status"] for c in body["checks"]}


CORRUPTED = {
    "passport": ("passport_number", "L898902C4", "mrz.matches.passport_number"),
    "id_card": ("id_number", "110105194912310021", "cn_ric.check_character"),
    "invoice": ("rounding", 0.01, "amounts.total"),  # the total would fail amount_due too
    "receipt": ("tip", 2.01, "amounts.total"),  # one cent: sums are exact
    "table": ("rows", [["North", "12.5"]], "table.row_widths"),
}


@pytest.mark.parametrize("name", list(CORRUPTED))
def test_verify_finds_one_changed_field(api: httpx.Client, name: str) -> None:
    field, value, check = CORRUPTED[name]
    data = schemas.get(name).example.model_dump(mode="json") | {field: value}
    body = api.post(f"/v1/verify/{name}", json=data).json()
    failed = {c["name"]: c["fields"] for c in body["checks"] if c["status"] == "fail"}
    assert list(failed) == [check]
    assert any(pointer.startswith(f"/{field}") for pointer in failed[check])
    assert body["review"] is True


def test_verify_refuses_a_bad_object_naming_the_fields(api: httpx.Client) -> None:
    data = schemas.get("invoice").example.model_dump(mode="json")
    data["total"] = "a lot"
    data["line_items"][1]["amount"] = "x"
    r = api.post("/v1/verify/invoice", json=data)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["param"] == "line_items.1.amount"
    fields = {e["field"] for e in error["details"]["errors"]}
    assert fields == {"line_items.1.amount", "total"}
    assert api.post("/v1/verify/invoice", content=b"[1, 2]").status_code in (400, 422)


def test_verify_unknown_schema_and_keys(api: httpx.Client, engine_gateway: GatewayServer) -> None:
    r = api.post("/v1/verify/visa", json={})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_schema"
    url = engine_gateway.base_url + "/v1/verify/table"
    assert httpx.post(url, json={"columns": [], "rows": []}).status_code == 401
    chat_only = engine_gateway.create_key("verify-chat-only", scopes=["chat"])
    r = httpx.post(url, json={}, headers={"Authorization": f"Bearer {chat_only}"})
    assert r.status_code == 403
