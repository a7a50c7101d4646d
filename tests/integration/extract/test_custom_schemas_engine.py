"""A document type registered through the API, run by the real gateway and engine.

Random weights make the answers nonsense, but everything else is real: the engine compiles
the registered (bounded) schema at registration, guided decoding follows it, the answer
validates against the registered JSON Schema, the registered checks report, and versions
and deletion take effect at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from tests.support.bill_of_lading import GOOD_ANSWER, definition
from tests.support.gateway_server import GatewayServer
from tests.support.images import data_url, make_image

pytestmark = pytest.mark.engine

IMAGE_URL = data_url(make_image(640, 480, seed=21))
SAMPLED = {"temperature": 1.0, "seed": 7, "num_crops": 4}
"""Greedy decoding of random weights fills every bound; sampling ends lists."""


def small_bill() -> dict[str, Any]:
    """The bill of lading with few packages, so a random-weight answer ends in budget."""
    d = definition(max_tokens=1024)
    d["json_schema"]["properties"]["packages"]["maxItems"] = 3
    return d


@pytest.fixture(scope="module")
def api(engine_gateway: GatewayServer) -> Iterator[httpx.Client]:
    key = engine_gateway.create_key("custom-schemas", scopes=["extract", "schemas"])
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=engine_gateway.base_url, headers=headers, timeout=300) as c:
        yield c
        c.delete("/v1/schemas/bill_of_lading")


def test_register_extract_verify_version_delete(api: httpx.Client) -> None:
    api.delete("/v1/schemas/bill_of_lading")
    r = api.post("/v1/schemas", json=small_bill())
    assert r.status_code == 201, r.text
    schema = r.json()["json_schema"]
    listed = {s["name"]: s["builtin"] for s in api.get("/v1/schemas").json()["data"]}
    assert listed["bill_of_lading"] is False and listed["invoice"] is True

    r = api.post("/v1/extract/bill_of_lading", json={"image_url": IMAGE_URL, **SAMPLED})
    assert r.status_code == 200, r.text
    body = r.json()
    jsonschema.validate(body["data"], schema)
    assert body["schema_version"] == 1
    assert [c["name"] for c in body["checks"]] == ["custom.weights", "custom.iban", "custom.dates"]
    assert body["confidence"] and all(0.0 <= v <= 1.0 for v in body["confidence"].values())

    r = api.post("/v1/verify/bill_of_lading", json=GOOD_ANSWER)
    assert r.status_code == 200 and r.json()["review"] is False, r.text

    v2 = small_bill()
    v2["max_tokens"] = 900
    r = api.put("/v1/schemas/bill_of_lading", json=v2)
    assert r.status_code == 200 and r.json()["version"] == 2, r.text
    r = api.post(
        "/v1/extract",
        json={"image_url": IMAGE_URL, "schemas": ["bill_of_lading@1", "people_count"], **SAMPLED},
    )
    assert r.status_code == 200, r.text
    outcome = r.json()["results"]["bill_of_lading"]
    assert outcome["status"] == 200 and outcome["schema_version"] == 1, outcome
    jsonschema.validate(outcome["data"], schema)

    assert api.delete("/v1/schemas/bill_of_lading").status_code == 200
    r = api.post("/v1/extract/bill_of_lading", json={"image_url": IMAGE_URL, **SAMPLED})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_schema"


def test_a_pdf_is_read_page_by_page_and_merged(api: httpx.Client, image_server: str) -> None:
    api.delete("/v1/schemas/bill_of_lading")
    assert api.post("/v1/schemas", json=small_bill()).status_code == 201
    r = api.post(
        "/v1/extract/bill_of_lading", json={"image_url": f"{image_server}/invoice.pdf", **SAMPLED}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "extraction.document" and body["schema_version"] == 1
    assert [p["page"] for p in body["pages"]] == [1, 2]
    assert all(p["status"] == 200 for p in body["pages"]), body["pages"]
    schema = api.get("/v1/schemas/bill_of_lading").json()["json_schema"]
    jsonschema.validate(body["data"], schema)
    assert [c["name"] for c in body["checks"]] == ["custom.weights", "custom.dates"]
    assert [c["name"] for c in body["pages"][0]["checks"]] == ["custom.iban"]
