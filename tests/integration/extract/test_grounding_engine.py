"""Grounding through the real gateway and engine: every extraction of every built-in schema,
asked with ``grounding: true``, carries a ``grounding`` map whose keys are pointers that
``confidence`` also has, and only the schema's transcribed ones.

Random weights make the answers nonsense, so nothing here says a value was found; the page
is one of our generated invoices, so OCR has words to look in.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator

import httpx
import pytest

import schemas
from gateway.trust.grounding import transcribed_leaves
from gateway.trust.grounding_check import too_short_for_ocr
from tests.support.gateway_server import GatewayServer
from tests.support.pages import invoice_page, page_image

pytestmark = pytest.mark.engine

SAMPLED = {"temperature": 1.0, "seed": 7}
"""Greedy decoding of random weights fills every bound; sampling ends lists."""


def _page_url() -> str:
    out = io.BytesIO()
    page_image(invoice_page(), dpi=150).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


PAGE_URL = _page_url()


@pytest.fixture(scope="module")
def api(engine_gateway: GatewayServer) -> Iterator[httpx.Client]:
    key = engine_gateway.create_key("grounding-tests", scopes=["extract"])
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=engine_gateway.base_url, headers=headers, timeout=300) as c:
        yield c


def _matches(pattern: str, pointer: str) -> bool:
    regex = "^" + re.escape(pattern).replace(r"\*", r"\d+") + "$"
    return re.match(regex, pointer) is not None


@pytest.mark.parametrize("name", schemas.names())
def test_every_schema_carries_grounding_keyed_by_transcribed_confidence_pointers(
    api: httpx.Client, name: str
) -> None:
    body = {"image_url": PAGE_URL, "num_crops": 4, "grounding": True, "confidence": True}
    r = api.post(f"/v1/extract/{name}", json=body | SAMPLED)
    assert r.status_code == 200, r.text
    result = r.json()
    spec = schemas.get(name)
    grounding = result["grounding"]
    assert isinstance(grounding, dict), result.get("grounding_note")
    assert set(grounding) <= set(result["confidence"])
    assert all(any(_matches(p, key) for p in spec.transcribed) for key in grounding)
    assert set(grounding) == {p for p, _ in transcribed_leaves(result["data"], spec.transcribed)}
    for where in grounding.values():
        assert where is None or (where["page"] == 1 and where["source"] == "ocr")
    checks = [c for c in result["checks"] if c["name"] == "grounding"]
    if spec.transcribed:
        assert result["grounding_engine"]["name"] == "tesseract"
        assert len(checks) == 1 and checks[0]["status"] in ("pass", "fail", "skipped")
        failed = checks[0]["status"] == "fail"
        reasons = {r["subject"] for r in result["review_reasons"] if r["kind"] == "check_failed"}
        assert ("grounding" in reasons) is failed
        if failed:
            # Every value found nowhere fails, but those too short to tell by OCR.
            missing = {p for p, g in grounding.items() if g is None}
            values = dict(transcribed_leaves(result["data"], spec.transcribed))
            judged = missing - too_short_for_ocr({p: values[p] for p in missing})
            assert set(checks[0]["fields"]) == judged
    else:
        assert grounding == {} and checks == []


def test_grounding_off_leaves_no_map_and_no_check(api: httpx.Client) -> None:
    body = {"image_url": PAGE_URL, "num_crops": 4, "grounding": False, "confidence": True}
    result = api.post("/v1/extract/invoice", json=body | SAMPLED).json()
    assert result["grounding"] is None
    assert not [c for c in result["checks"] if c["name"] == "grounding"]
