"""A 3-page PDF as an async extraction job against the real engine: it completes, and its
result is the synchronous call's body (same shape, same pages, the merged document).

Random weights: sampling with a fixed seed ends the answers, as the synchronous document
tests do (``tests/integration/extract/test_documents.py``)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import schemas
from tests.support.documents import invoice_pages, pdf_bytes
from tests.support.gateway_server import GatewayServer

pytestmark = pytest.mark.engine

SAMPLED = {"temperature": 1.0, "seed": 7, "num_crops": 4}
INVOICE_PDF = pdf_bytes(invoice_pages(3))


@pytest.fixture(scope="module")
def api(engine_gateway: GatewayServer) -> Iterator[httpx.Client]:
    key = engine_gateway.create_key("jobs-engine", scopes=["extract"])
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=engine_gateway.base_url, headers=headers, timeout=300) as c:
        yield c


def _wait(api: httpx.Client, job_id: str, timeout: float = 600.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = api.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed", "cancelled"):
            return dict(job)
        assert time.monotonic() < deadline, job
        time.sleep(1.0)


def test_a_three_page_job_has_the_synchronous_result(api: httpx.Client) -> None:
    body = {"image_url": "data:application/pdf;base64," + base64.b64encode(INVOICE_PDF).decode(),
            **SAMPLED}  # fmt: skip
    sync = api.post("/v1/extract/invoice", json=body)
    assert sync.status_code == 200, sync.text
    r = api.post("/v1/extract/invoice", json=body, headers={"Prefer": "respond-async"})
    assert r.status_code == 202, r.text
    job = _wait(api, r.json()["id"])
    assert job["status"] == "completed", job
    assert job["progress"] == {"pages_total": 3, "pages_done": 3}
    result, expected = job["result"], sync.json()
    assert set(result) == set(expected)
    assert result["object"] == "extraction.document" and result["schema"] == "invoice"
    assert result["page_count"] == 3 and [p["page"] for p in result["pages"]] == [1, 2, 3]
    assert result["merge_rule"] == expected["merge_rule"]
    invoice = schemas.get("invoice").model
    if result["data"] is not None:
        invoice.model_validate(result["data"])
    for page, same in zip(result["pages"], expected["pages"], strict=True):
        assert set(page) == set(same)
        if page["status"] == 200:
            invoice.model_validate(page["data"])
    good = {p["page"] for p in result["pages"] if p["status"] == 200}
    assert set((result["provenance"] or {}).values()) <= good
