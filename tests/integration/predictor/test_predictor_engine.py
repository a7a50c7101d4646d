"""The Cog predictor under coglet's HTTP server, on the real engine: what Replicate runs.

One server attaches to the session's engine (``COG_ENGINE_URL``) with the test-only private
fetch switch for the loopback image server; a second runs without it, as production does.
Random weights: sampling at temperature 1.0 with seed 7 ends the model's answers (as the
extraction suites do).
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jsonschema
import pytest

import schemas
from gateway.predictor.output import project_version
from tests.support.cog_server import start_predictor
from tests.support.documents import invoice_pages, pdf_bytes
from tests.support.gateway_server import GatewayServer, Proc
from tests.support.images import data_url, make_image
from tests.support.procs import REPO

pytestmark = pytest.mark.engine

SAMPLED = {"temperature": 1.0, "seed": 7, "num_crops": 4}
PHOTO = data_url(make_image(640, 480, seed=21))
FREE = {"prompt": "Describe the picture.", "max_tokens": 16, "temperature": 1.0, "seed": 7}


@pytest.fixture(scope="module")
def predictor(
    vllm_engine: Any, image_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proc]:
    """The predictor with loopback fetches allowed (test only) and at most 3 images."""
    server = start_predictor(
        vllm_engine.base_url,
        tmp_path_factory.mktemp("cog"),
        GATEWAY_ALLOW_PRIVATE_FETCH="true",
        GATEWAY_FETCH_ALLOWED_HOSTS="127.0.0.1",
        GATEWAY_MAX_IMAGES_PER_REQUEST="3",
        COG_MAX_CONCURRENCY="4",
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def strict(vllm_engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """The predictor as deployed: private addresses refused."""
    server = start_predictor(vllm_engine.base_url, tmp_path_factory.mktemp("cog-strict"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def served_schemas(engine_gateway: GatewayServer) -> dict[str, dict[str, Any]]:
    """Every schema's JSON Schema as the gateway serves it (``GET /v1/schemas``)."""
    key = engine_gateway.create_key("predictor-tests", scopes=["extract"])
    r = httpx.get(
        engine_gateway.base_url + "/v1/schemas", headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 200, r.text
    return {info["name"]: info["json_schema"] for info in r.json()["data"]}


def predict(server: Proc, **inputs: Any) -> dict[str, Any]:
    """One synchronous prediction. Cog may answer the previous one a moment before it frees
    its slot, and then refuses the next with 409 "At capacity" (seen once in CI on a
    one-slot predictor): a caller retries that, for a few seconds, as a Replicate client would."""
    deadline = time.monotonic() + 10
    while True:
        r = httpx.post(server.base_url + "/predictions", json={"input": inputs}, timeout=600)
        if r.status_code != 409 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 200, r.text
    return dict(r.json())


def succeeded(server: Proc, **inputs: Any) -> dict[str, Any]:
    body = predict(server, **inputs)
    assert body["status"] == "succeeded", body.get("error") or body
    return dict(body["output"])


def failed(server: Proc, **inputs: Any) -> str:
    body = predict(server, **inputs)
    assert body["status"] == "failed", body
    return str(body["error"])


def answered(out: dict[str, Any]) -> None:
    """A free answer came back. Its text may be empty: a random-weight model may stop at
    once, and on a shared engine the batch a seeded request lands in can change its tokens."""
    assert isinstance(out["text"], str) and out["usage"]["completion_tokens"] > 0, out


def engine_root(engine: Any) -> str:
    return str(httpx.get(engine.base_url + "/v1/models").json()["data"][0]["root"])


def test_an_uploaded_image_gives_a_typed_extraction_that_fits_the_schema(
    predictor: Proc, vllm_engine: Any, served_schemas: dict[str, dict[str, Any]]
) -> None:
    out = succeeded(predictor, image=PHOTO, schema="receipt", **SAMPLED)
    jsonschema.validate(out["data"], served_schemas["receipt"])
    assert out["schema"] == "receipt" and out["text"] is None
    assert isinstance(out["confidence"], dict) and out["confidence"]
    assert all(0.0 <= v <= 1.0 for v in out["confidence"].values())
    assert {c["status"] for c in out["checks"]} <= {"pass", "fail", "skipped"}
    assert isinstance(out["review"], bool) and isinstance(out["review_reasons"], list)
    assert out["review"] == bool(out["review_reasons"])
    assert out["usage"]["completion_tokens"] > 0
    assert (out["model"], out["version"]) == ("phi-3.5-vision", project_version())
    assert out["model_revision"] == engine_root(vllm_engine)


def test_top_p_applies_to_a_schema_prediction_too(predictor: Proc) -> None:
    out = succeeded(predictor, image=PHOTO, schema="people_count", top_p=0.9, **SAMPLED)
    schemas.get("people_count").model.model_validate(out["data"])
    assert out["schema"] == "people_count"


def test_a_three_page_pdf_gives_each_page_and_the_merged_document(predictor: Proc) -> None:
    pdf = "data:application/pdf;base64," + base64.b64encode(pdf_bytes(invoice_pages(3))).decode()
    out = succeeded(predictor, image=pdf, schema="invoice", **SAMPLED)
    assert out["page_count"] == 3
    assert [p["page"] for p in out["pages"]] == [1, 2, 3]
    invoice = schemas.get("invoice").model
    good = [p for p in out["pages"] if p["status"] == 200]
    assert good, out["pages"]
    for page in good:
        invoice.model_validate(page["data"])
        assert isinstance(page["confidence"], dict)
    merged = invoice.model_validate(out["data"])
    assert len(merged.line_items) == sum(len(p["data"]["line_items"]) for p in good)
    assert all(f"/line_items/{i}" in out["provenance"] for i in range(len(merged.line_items)))


def test_two_images_by_comma_separated_urls_are_read_as_two_pages(
    predictor: Proc, image_server: str
) -> None:
    urls = f"{image_server}/cat.png , {image_server}/cat.jpg"
    out = succeeded(predictor, image_urls=urls, schema="receipt", confidence=False, **SAMPLED)
    assert [p["page"] for p in out["pages"]] == [1, 2]
    assert all(p["status"] == 200 for p in out["pages"]), out["pages"]
    assert all(p["confidence"] is None for p in out["pages"])  # confidence: false


def test_pages_selects_the_pages_of_a_pdf(predictor: Proc) -> None:
    pdf = "data:application/pdf;base64," + base64.b64encode(pdf_bytes(invoice_pages(3))).decode()
    out = succeeded(predictor, image=pdf, schema="invoice", pages="2", **SAMPLED)
    assert out["page_count"] == 3 and [p["page"] for p in out["pages"]] == [2]


def test_a_free_prompt_is_answered_in_text(predictor: Proc) -> None:
    out = succeeded(predictor, image=PHOTO, **FREE)
    assert isinstance(out["text"], str) and out["text"].strip()
    assert out["schema"] is None and out["data"] is None
    assert out["finish_reason"] in ("stop", "length")
    assert out["id"].startswith("chatcmpl-cog-")  # the request id sent to vLLM
    assert 0 < out["usage"]["completion_tokens"] <= 16


def test_the_same_seed_gives_the_same_free_answer_and_top_p_reaches_the_engine(
    predictor: Proc,
) -> None:
    first, again = (succeeded(predictor, **FREE)["text"] for _ in range(2))
    assert first == again
    narrow = succeeded(predictor, **FREE, top_p=0.01)["text"]  # greedy-like: differs
    assert narrow != first


def test_several_predictions_run_at_once(predictor: Proc) -> None:
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda s: succeeded(predictor, **{**FREE, "seed": s}), range(4)))
    for out in outs:
        answered(out)


class _Webhooks(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.received.append(json.loads(body))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhooks() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _Webhooks.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Webhooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Webhooks.received
    server.shutdown()
    server.server_close()


def test_respond_async_sends_start_output_and_completed_webhooks(
    predictor: Proc, webhooks: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhooks
    body = {
        "input": {"image": PHOTO, "schema": "receipt", **SAMPLED},
        "webhook": url,
        "webhook_events_filter": ["start", "output", "completed"],
    }
    r = httpx.post(
        predictor.base_url + "/predictions",
        json=body,
        headers={"Prefer": "respond-async"},
        timeout=30,
    )
    assert r.status_code == 202, r.text
    assert r.json()["status"] in ("starting", "processing")
    deadline = time.monotonic() + 300
    while len(received) < 3:
        assert time.monotonic() < deadline, received
        time.sleep(0.2)
    time.sleep(0.5)  # a late extra event would arrive now
    # start (no output yet), output (the result, still processing), completed; each is sent
    # on its own, so they may arrive in any order
    events = sorted((e["status"], bool(e.get("output"))) for e in received)
    assert events == [("processing", False), ("processing", True), ("succeeded", True)], events
    (final,) = (e for e in received if e["status"] == "succeeded")
    assert final["status"] == "succeeded" and final["metrics"]["predict_time"] > 0, final
    jsonschema.validate(final["output"]["data"], schemas.get("receipt").json_schema())


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"image": PHOTO, "schema": "no-such-kind"}, "schema: unknown schema 'no-such-kind'"),
        ({"image": "data:image/png;base64,iVBORw0KGgoAAAAA", "schema": "receipt"}, "image: "),
        ({"image_urls": "data:image/png;base64,AAAA", "prompt": "hi"}, "image_urls[0]: "),
        ({"image": PHOTO, "image_urls": "https://example.com/a.png"}, "either image or"),
        ({"schema": "receipt"}, "image: a schema reads"),
    ],
    ids=["unknown-schema", "corrupt-image", "data-url-in-image-urls", "both", "no-image"],
)
def test_bad_input_fails_the_prediction_clearly_and_the_next_one_succeeds(
    predictor: Proc, inputs: dict[str, Any], expected: str
) -> None:
    assert expected in failed(predictor, **inputs)
    answered(succeeded(predictor, **FREE))


def test_too_many_image_urls_fail_naming_the_limit(predictor: Proc, image_server: str) -> None:
    error = failed(predictor, image_urls=",".join([f"{image_server}/cat.png"] * 4), prompt="hi")
    assert "too many images: 4 in image_urls, at most 3" in error
    answered(succeeded(predictor, **FREE))


def test_a_private_address_in_image_urls_is_refused(strict: Proc, image_server: str) -> None:
    error = failed(strict, image_urls=f"{image_server}/cat.png", prompt="hi")
    assert "image_urls[0]: " in error and "loopback" in error
    answered(succeeded(strict, **FREE))


def test_a_url_given_as_image_is_downloaded_by_cog_without_our_address_checks(
    strict: Proc, image_server: str
) -> None:
    """Cog fetches a file input's URL itself, before run(): the loopback address that
    image_urls refuses gets through (docs/replicate.md), while the bytes still pass our image
    checks (a text file is refused)."""
    answered(succeeded(strict, image=f"{image_server}/cat.png", **FREE))
    assert "image: " in failed(strict, image=f"{image_server}/not-image", prompt="hi")


def test_an_input_outside_its_declared_range_is_refused_naming_it(predictor: Proc) -> None:
    r = httpx.post(
        predictor.base_url + "/predictions", json={"input": {"num_crops": 0, "prompt": "x"}}
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == "num_crops"


def test_the_served_openapi_declares_every_input_with_its_default(predictor: Proc) -> None:
    import inspect

    from predict import Predictor

    served = httpx.get(predictor.base_url + "/openapi.json").json()
    props = served["components"]["schemas"]["Input"]["properties"]
    params = list(inspect.signature(Predictor.run).parameters)[1:]
    assert sorted(props, key=lambda name: props[name]["x-order"]) == params
    assert props["temperature"]["default"] == 0.0 and props["confidence"]["default"] is True
    assert props["image"]["format"] == "uri"
    assert (REPO / ".cog" / "openapi_schema.json").is_file()


def test_put_runs_a_prediction_under_the_callers_id(predictor: Proc) -> None:
    r = httpx.put(predictor.base_url + "/predictions/my-own-id", json={"input": FREE}, timeout=300)
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["status"]) == ("my-own-id", "succeeded")


def test_a_running_prediction_is_cancelled_and_the_next_one_succeeds(
    predictor: Proc, webhooks: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhooks
    body = {"id": "long-story", "input": {**FREE, "max_tokens": 1024}, "webhook": url}
    r = httpx.post(
        predictor.base_url + "/predictions",
        json=body,
        headers={"Prefer": "respond-async"},
        timeout=30,
    )
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 60
    while not received:  # the start event: run() is going
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    assert httpx.post(predictor.base_url + "/predictions/long-story/cancel").status_code == 200
    while not any(e["status"] in ("canceled", "succeeded", "failed") for e in received):
        assert time.monotonic() < deadline, received
        time.sleep(0.1)
    assert received[-1]["status"] == "canceled", received[-1]
    answered(succeeded(predictor, **FREE))
