"""Async extraction jobs against a stub upstream (scripted answers, many pages): a 60-page PDF
past the synchronous cap, a gateway SIGKILLed mid-job, cancel, keys, Idempotency-Key, an
unrenderable document, ``file_id`` input, listing, revocation, a job on PostgreSQL; and
``GET /v1/files`` paged through the openai SDK. (The real engine reads a job in
``test_jobs_engine.py``.)"""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.batches import sdk
from tests.support.documents import encrypted_pdf, pdf_bytes, text_page
from tests.support.gateway_server import GatewayServer, Proc, start_gateway, start_stub
from tests.support.pg import PostgresServer

FAST = {"GATEWAY_BATCH_POLL_S": "0.2", "GATEWAY_MODEL_NAME": "stub-script"}
ASYNC = {"Prefer": "respond-async"}
SMALL = (200, 260)


def _pdf(pages: int) -> bytes:
    return pdf_bytes([text_page(n + 1, SMALL) for n in range(pages)], dpi=30)


def _url(data: bytes) -> str:
    return "data:application/pdf;base64," + base64.b64encode(data).decode()


def _row(i: int) -> str:
    return json.dumps({"title": None, "columns": ["item", "page"], "rows": [[f"r{i}", "x"]]})


def _script(stub: Proc, count: int) -> None:
    httpx.post(stub.base_url + "/stub/script", json=[_row(i) for i in range(count)])


def _headers(key: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **more}


def _submit(gw: GatewayServer, key: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(
        gw.base_url + "/v1/extract/table",
        headers=_headers(key, **ASYNC, **headers),
        json=body,
        timeout=60,
    )


def _job(gw: GatewayServer, key: str, job_id: str) -> dict[str, Any]:
    r = httpx.get(f"{gw.base_url}/v1/jobs/{job_id}", headers=_headers(key), timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _wait(
    gw: GatewayServer, key: str, job_id: str, until: tuple[str, ...] = ("completed", "failed",
    "cancelled"), timeout: float = 120.0
) -> dict[str, Any]:  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        job = _job(gw, key, job_id)
        if job["status"] in until:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_stub(tmp_path_factory.mktemp("jobs-stub"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def gateway(stub: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    gw = start_gateway(stub.base_url, tmp_path_factory.mktemp("jobs-gw"), **FAST)
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def alice(gateway: GatewayServer) -> str:
    return gateway.create_key("alice", scopes=["extract"])


def _page_numbers(job: dict[str, Any]) -> list[int]:
    return [p["page"] for p in job["result"]["pages"]]


def test_a_60_page_pdf_past_the_synchronous_cap_completes(
    stub: Proc, gateway: GatewayServer, alice: str
) -> None:
    body = {"image_url": _url(_pdf(60)), "num_crops": 1}
    sync = httpx.post(
        gateway.base_url + "/v1/extract/table", headers=_headers(alice), json=body, timeout=60
    )
    assert sync.status_code == 413, sync.text  # over GATEWAY_DOCUMENT_MAX_PAGES (20)
    _script(stub, 60)
    r = _submit(gateway, alice, body)
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["object"] == "extraction.job" and job["status"] == "queued"
    assert job["result"] is None and job["error"] is None and job["completed_at"] is None
    done = _wait(gateway, alice, job["id"])
    assert done["status"] == "completed", done
    assert done["progress"] == {"pages_total": 60, "pages_done": 60}
    result = done["result"]
    assert result["page_count"] == 60 and _page_numbers(done) == list(range(1, 61))
    assert all(p["status"] == 200 and len(p["data"]["rows"]) == 1 for p in result["pages"])
    rows = result["data"]["rows"]
    assert sorted(row[0] for row in rows) == sorted(f"r{i}" for i in range(60))  # merged
    assert result["schema"] == "table" and result["merge_rule"]
    assert done["completed_at"] >= done["created_at"]
    seen = httpx.get(stub.base_url + "/stub/seen").json()
    assert len(seen) == 60 and {s["priority"] for s in seen} == {10}  # background priority


def test_a_gateway_killed_mid_job_finishes_it_each_page_once(tmp_path: Path) -> None:
    stub = start_stub(tmp_path, service_ms=300)
    env = {
        **FAST,
        "GATEWAY_BACKGROUND_MAX_IN_FLIGHT": "1",
        "GATEWAY_BATCH_LEASE_S": "2",
        "GATEWAY_JOB_RANGE_PAGES": "2",
    }
    gw = start_gateway(stub.base_url, tmp_path, **env)
    try:
        key = gw.create_key("alice", scopes=["extract"])
        _script(stub, 200)
        job = _submit(gw, key, {"image_url": _url(_pdf(12)), "num_crops": 1}).json()
        running = _wait(gw, key, job["id"], until=("in_progress",))
        while running["progress"]["pages_done"] < 4:
            time.sleep(0.1)
            running = _job(gw, key, job["id"])
        assert running["status"] == "in_progress", running  # killed in the middle
        os.killpg(gw.proc.pid, signal.SIGKILL)
        gw.proc.wait(10)
        gw = start_gateway(stub.base_url, tmp_path, GATEWAY_KEYS_DB=str(gw.keys_db), **env)
        done = _wait(gw, key, job["id"])
        assert done["status"] == "completed", done
        assert _page_numbers(done) == list(range(1, 13))  # every page, exactly once
        assert len(done["result"]["data"]["rows"]) == 12
        assert done["progress"] == {"pages_total": 12, "pages_done": 12}
    finally:
        gw.stop()
        stub.stop()


def test_cancel_stops_the_rest_and_revocation_stops_queued_work(tmp_path: Path) -> None:
    stub = start_stub(tmp_path)
    gw = start_gateway(
        stub.base_url,
        tmp_path,
        GATEWAY_BATCH_POLL_S="0.2",
        GATEWAY_MODEL_NAME="stub-hold",
        GATEWAY_BACKGROUND_MAX_IN_FLIGHT="1",
        GATEWAY_DOCUMENT_PAGE_CONCURRENCY="1",
        GATEWAY_JOB_RANGE_PAGES="1",
    )
    try:
        key = gw.create_key("alice", scopes=["extract"])
        job = _submit(gw, key, {"image_url": _url(_pdf(4)), "num_crops": 1}).json()
        _wait_held(stub, 1)
        r = httpx.post(f"{gw.base_url}/v1/jobs/{job['id']}/cancel", headers=_headers(key))
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        assert r.json()["error"]["code"] == "job_cancelled"
        httpx.get(stub.base_url + "/stub/release")
        time.sleep(1.0)
        after = _job(gw, key, job["id"])
        assert after["status"] == "cancelled" and after["result"] is None
        assert httpx.get(stub.base_url + "/stub/events").json()["requests"] == 1
        # a revoked key's queued job ends cancelled, no further page read
        other = _submit(gw, key, {"image_url": _url(_pdf(3)), "num_crops": 1}).json()
        _wait_held(stub, 1)
        assert gw.cli("keys", "revoke", "alice").returncode == 0
        admin = gw.create_key("admin", scopes=["extract"])
        deadline = time.monotonic() + 20
        while _status(gw, other["id"]) != "cancelled":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        httpx.get(stub.base_url + "/stub/release")
        time.sleep(1.0)
        assert httpx.get(stub.base_url + "/stub/events").json()["requests"] == 2
        r = httpx.get(f"{gw.base_url}/v1/jobs/{other['id']}", headers=_headers(admin))
        assert r.status_code == 404
    finally:
        gw.stop()
        stub.stop()


def _status(gw: GatewayServer, job_id: str) -> str:
    import sqlite3

    with sqlite3.connect(gw.keys_db) as db:
        return str(db.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()[0])


def _wait_held(stub: Proc, count: int) -> None:
    deadline = time.monotonic() + 30
    while httpx.get(stub.base_url + "/stub/events").json()["held"] < count:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_keys_see_only_their_own_jobs_with_the_extract_scope(
    stub: Proc, gateway: GatewayServer, alice: str
) -> None:
    _script(stub, 2)
    job = _submit(gateway, alice, {"image_url": _url(_pdf(2)), "num_crops": 1}).json()
    bob = gateway.create_key("bob", scopes=["extract"])
    for method, path in (
        ("GET", f"/v1/jobs/{job['id']}"),
        ("POST", f"/v1/jobs/{job['id']}/cancel"),
    ):
        r = httpx.request(method, gateway.base_url + path, headers=_headers(bob))
        assert r.status_code == 404, r.text
    listed = httpx.get(gateway.base_url + "/v1/jobs", headers=_headers(bob)).json()
    assert listed["data"] == [] and listed["has_more"] is False
    chatter = gateway.create_key("chatter", scopes=["chat"])
    for r in (
        httpx.get(gateway.base_url + "/v1/jobs", headers=_headers(chatter)),
        _submit(gateway, chatter, {"image_url": _url(_pdf(1))}),
    ):
        assert r.status_code == 403, r.text
    _wait(gateway, alice, job["id"])


def test_an_idempotency_key_returns_the_first_job(
    stub: Proc, gateway: GatewayServer, alice: str
) -> None:
    _script(stub, 1)
    body = {"image_url": _url(_pdf(1)), "num_crops": 1}
    first = _submit(gateway, alice, body, **{"Idempotency-Key": "invoice-7"})
    again = _submit(gateway, alice, body, **{"Idempotency-Key": "invoice-7"})
    assert first.status_code == 202 and again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    changed = _submit(gateway, alice, {**body, "num_crops": 2}, **{"Idempotency-Key": "invoice-7"})
    assert changed.status_code == 409, changed.text
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    # another key may use the same header value for its own job
    bob = gateway.create_key("bob-idem", scopes=["extract"])
    theirs = _submit(gateway, bob, body, **{"Idempotency-Key": "invoice-7"})
    assert theirs.status_code == 202 and theirs.json()["id"] != first.json()["id"]
    _wait(gateway, alice, first.json()["id"])


@pytest.mark.parametrize(
    "document",
    [encrypted_pdf(), b"%PDF-1.4\nnot really a pdf\n%%EOF\n", _pdf(3)[:-200]],
    ids=["encrypted", "corrupt", "truncated"],
)
def test_an_unrenderable_document_fails_with_the_synchronous_error(
    gateway: GatewayServer, alice: str, document: bytes
) -> None:
    body = {"image_url": _url(document), "num_crops": 1}
    sync = httpx.post(
        gateway.base_url + "/v1/extract/table", headers=_headers(alice), json=body, timeout=60
    )
    assert 400 <= sync.status_code < 500, sync.text
    r = _submit(gateway, alice, body)
    assert r.status_code == 202, r.text
    done = _wait(gateway, alice, r.json()["id"])
    assert done["status"] == "failed" and done["result"] is None
    assert done["error"] == {"status": sync.status_code, **sync.json()["error"]}


def test_a_document_uploaded_as_user_data_is_named_by_file_id(
    stub: Proc, gateway: GatewayServer, alice: str
) -> None:
    client = sdk(gateway.base_url, alice)
    uploaded = client.files.create(file=("scan.pdf", _pdf(3)), purpose="user_data")
    assert uploaded.purpose == "user_data"
    _script(stub, 3)
    r = _submit(gateway, alice, {"file_id": uploaded.id, "num_crops": 1})
    assert r.status_code == 202, r.text
    done = _wait(gateway, alice, r.json()["id"])
    assert done["status"] == "completed", done
    assert _page_numbers(done) == [1, 2, 3] and len(done["result"]["data"]["rows"]) == 3
    assert client.files.retrieve(uploaded.id).id == uploaded.id  # the key's file stays
    bob = gateway.create_key("bob-files", scopes=["extract"])
    assert _submit(gateway, bob, {"file_id": uploaded.id}).status_code == 404
    batch_file = client.files.create(file=("in.jsonl", b"{}\n"), purpose="batch")
    refused = _submit(gateway, alice, {"file_id": batch_file.id})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "file_id"
    both = _submit(gateway, alice, {"file_id": uploaded.id, "image_url": _url(_pdf(1))})
    assert both.status_code == 400, both.text


def test_jobs_are_listed_newest_first_in_pages(gateway: GatewayServer, stub: Proc) -> None:
    key = gateway.create_key("lister", scopes=["extract"])
    _script(stub, 3)
    ids = [_submit(gateway, key, {"image_url": _url(_pdf(1)), "num_crops": 1}).json()["id"]
           for _ in range(3)]  # fmt: skip
    url = gateway.base_url + "/v1/jobs"
    first = httpx.get(url, headers=_headers(key), params={"limit": 2}).json()
    assert [j["id"] for j in first["data"]] == ids[::-1][:2] and first["has_more"]
    rest = httpx.get(url, headers=_headers(key), params={"limit": 2, "after": first["last_id"]})
    assert [j["id"] for j in rest.json()["data"]] == [ids[0]] and not rest.json()["has_more"]
    for job_id in ids:
        _wait(gateway, key, job_id)


def test_files_are_listed_in_pages_through_the_sdk(gateway: GatewayServer) -> None:
    client = sdk(gateway.base_url, gateway.create_key("filer", scopes=["extract"]))
    ids = [client.files.create(file=(f"{i}.pdf", _pdf(1)), purpose="user_data").id
           for i in range(3)]  # fmt: skip
    page = client.files.list(limit=2)
    assert [f.id for f in page.data] == ids[::-1][:2] and page.has_more
    following = client.files.list(limit=2, after=page.data[-1].id)
    assert [f.id for f in following.data] == [ids[0]] and not following.has_more
    assert [f.id for f in client.files.list(limit=1)] == ids[::-1]  # the SDK pages by itself
    with pytest.raises(openai.BadRequestError):
        client.files.list(limit=0)


def test_user_data_uploads_have_their_own_cap(stub: Proc, tmp_path: Path) -> None:
    gw = start_gateway(
        stub.base_url,
        tmp_path,
        GATEWAY_BATCH_MAX_FILE_BYTES="2000",
        GATEWAY_JOB_MAX_DOCUMENT_BYTES="3000",
    )
    try:
        client = sdk(gw.base_url, gw.create_key("alice"))
        assert client.files.create(file=("a.pdf", b"x" * 2500), purpose="user_data").bytes == 2500
        with pytest.raises(openai.APIStatusError) as refused:
            client.files.create(file=("b.jsonl", b"x" * 2500), purpose="batch")
        assert refused.value.status_code == 413
        with pytest.raises(openai.APIStatusError) as refused:
            client.files.create(file=("c.pdf", b"x" * 3001), purpose="user_data")
        assert refused.value.status_code == 413
    finally:
        gw.stop()


def test_job_queue_gauges_are_exported(gateway: GatewayServer, alice: str) -> None:
    text = httpx.get(gateway.base_url + "/metrics", headers=_headers(alice)).text
    assert 'gateway_queue_depth{kind="job_page"}' in text
    assert 'gateway_queue_oldest_age_seconds{kind="job_page"}' in text


def test_a_job_on_a_postgresql_key_store_completes(
    stub: Proc, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """A PostgreSQL key store runs jobs too (``PostgresJobStore``; it answered 501 before)."""
    gw = start_gateway(
        stub.base_url,
        tmp_path,
        GATEWAY_KEYS_DB=postgres_server.fresh_database("jobs"),
        GATEWAY_JOB_RANGE_PAGES="2",
        **FAST,
    )
    try:
        key = gw.create_key("alice", scopes=["extract"])
        _script(stub, 5)
        r = _submit(gw, key, {"image_url": _url(_pdf(5)), "num_crops": 1})
        assert r.status_code == 202, r.text
        done = _wait(gw, key, r.json()["id"])
        assert done["status"] == "completed", done
        assert done["progress"] == {"pages_total": 5, "pages_done": 5}
        assert _page_numbers(done) == [1, 2, 3, 4, 5]
        assert sorted(row[0] for row in done["result"]["data"]["rows"]) == [
            f"r{i}" for i in range(5)
        ]
        listed = httpx.get(gw.base_url + "/v1/jobs", headers=_headers(key)).json()
        assert [j["id"] for j in listed["data"]] == [done["id"]]
    finally:
        gw.stop()


def test_several_schemas_and_single_images_answer_as_the_synchronous_call(
    stub: Proc, gateway: GatewayServer, alice: str
) -> None:
    many = {"image_url": _url(_pdf(3)), "schemas": ["table"], "num_crops": 1}
    _script(stub, 3)
    sync = httpx.post(
        gateway.base_url + "/v1/extract", headers=_headers(alice), json=many, timeout=60
    )
    assert sync.status_code == 200, sync.text
    _script(stub, 3)
    r = httpx.post(
        gateway.base_url + "/v1/extract", headers=_headers(alice, **ASYNC), json=many, timeout=60
    )
    assert r.status_code == 202, r.text
    done = _wait(gateway, alice, r.json()["id"])
    assert done["status"] == "completed" and done["schemas"] == ["table"], done
    result, expected = done["result"], sync.json()
    assert set(result) == set(expected) and result["object"] == expected["object"]
    table, same = result["results"]["table"], expected["results"]["table"]
    assert set(table) == set(same) and [p["page"] for p in table["pages"]] == [1, 2, 3]
    assert sorted(table["data"]["rows"]) == sorted(same["data"]["rows"])
    # a single image is one unit: the synchronous pipeline, run in the background
    image = {"image_url": _url_png(), "num_crops": 1}
    answer = '{"count": 2, "confidence": "high"}'
    httpx.post(stub.base_url + "/stub/script", json=[answer, answer])
    sync = httpx.post(
        gateway.base_url + "/v1/extract/people_count", headers=_headers(alice), json=image
    )
    r = httpx.post(
        gateway.base_url + "/v1/extract/people_count",
        headers=_headers(alice, **ASYNC),
        json=image,
    )
    assert sync.status_code == 200 and r.status_code == 202, r.text
    done = _wait(gateway, alice, r.json()["id"])
    assert done["progress"] == {"pages_total": 1, "pages_done": 1}
    assert done["result"]["data"] == sync.json()["data"] == {"count": 2, "confidence": "high"}
    assert set(done["result"]) == set(sync.json())


def _url_png() -> str:
    from tests.support.images import data_url, make_image

    return data_url(make_image(64, 48, seed=3))


def test_pages_wait_for_an_engine_that_went_away(tmp_path: Path) -> None:
    stub = start_stub(tmp_path, service_ms=200)
    port = int(stub.base_url.rsplit(":", 1)[1])
    env = {
        **FAST,
        "GATEWAY_BACKGROUND_MAX_IN_FLIGHT": "1",
        "GATEWAY_BATCH_RETRY_BACKOFF_S": "0.2",
        "GATEWAY_JOB_RANGE_PAGES": "1",
    }
    gw = start_gateway(stub.base_url, tmp_path, **env)
    try:
        key = gw.create_key("alice", scopes=["extract"])
        _script(stub, 8)
        job = _submit(gw, key, {"image_url": _url(_pdf(8)), "num_crops": 1}).json()
        running = _wait(gw, key, job["id"], until=("in_progress",))
        while running["progress"]["pages_done"] < 2:
            time.sleep(0.05)
            running = _job(gw, key, job["id"])
        stub.stop()  # connections refused from now on
        time.sleep(3.0)
        assert _job(gw, key, job["id"])["status"] == "in_progress"
        stub = start_stub(tmp_path, port=port, service_ms=200)
        _script(stub, 8)
        done = _wait(gw, key, job["id"])
        assert done["status"] == "completed", done
        assert [p["status"] for p in done["result"]["pages"]] == [200] * 8
    finally:
        gw.stop()
        stub.stop()


def test_a_document_repair_rerenders_only_the_pages_it_rereads(
    stub: Proc, gateway: GatewayServer, alice: str
) -> None:
    import schemas

    right = schemas.get("invoice").example
    wrong = right.model_copy(update={"total": 240.0})
    script = [wrong.model_dump_json(), right.model_dump_json()]
    body = {"image_url": _url(_pdf(1)), "num_crops": 1, "verify": "repair"}
    httpx.post(stub.base_url + "/stub/script", json=script)
    sync = httpx.post(
        gateway.base_url + "/v1/extract/invoice", headers=_headers(alice), json=body, timeout=60
    )
    assert sync.status_code == 200, sync.text
    httpx.post(stub.base_url + "/stub/script", json=script)
    r = httpx.post(
        gateway.base_url + "/v1/extract/invoice",
        headers=_headers(alice, **ASYNC),
        json=body,
        timeout=60,
    )
    done = _wait(gateway, alice, r.json()["id"])
    assert done["status"] == "completed", done
    result, expected = done["result"], sync.json()
    assert expected["repair"] is not None and expected["data"]["total"] == right.total
    assert result["data"] == expected["data"] and result["checks"] == expected["checks"]
    assert result["repair"]["chosen"] == expected["repair"]["chosen"]
    assert len(httpx.get(stub.base_url + "/stub/seen").json()) == 2  # page 1, then its re-read


def test_a_multipart_upload_with_a_webhook_url_form_field(
    stub: Proc, gateway: GatewayServer, alice: str
) -> None:
    """The form field is read as the JSON field is: here no secret can sign, so it is a 400
    naming it before anything is queued (delivery: integration/batch/test_batch_webhooks.py)."""
    before = httpx.get(gateway.base_url + "/v1/jobs", headers=_headers(alice)).json()["data"]
    r = httpx.post(
        gateway.base_url + "/v1/extract/table",
        headers=_headers(alice, **ASYNC),
        files={"image": ("scan.pdf", _pdf(2), "application/pdf")},
        data={"num_crops": "1", "webhook_url": "https://hooks.example.com/jobs"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "webhooks_not_configured"
    assert r.json()["error"]["param"] == "webhook_url"
    after = httpx.get(gateway.base_url + "/v1/jobs", headers=_headers(alice)).json()["data"]
    assert len(after) == len(before)  # nothing queued
    bad = _submit(gateway, alice, {"image_url": _url(_pdf(1)), "webhook_url": "ftp://x"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "webhook_url"


def test_jobs_and_their_stored_input_expire_for_good(stub: Proc, tmp_path: Path) -> None:
    blobs = tmp_path / "blobs"
    gw = start_gateway(
        stub.base_url, tmp_path, GATEWAY_FILES_TTL_S="2", GATEWAY_FILES_DIR=str(blobs), **FAST
    )
    try:
        key = gw.create_key("alice", scopes=["extract"])
        _script(stub, 1)
        job = _submit(gw, key, {"image_url": _url(_pdf(1)), "num_crops": 1}).json()
        deadline = time.monotonic() + 20
        while (
            httpx.get(f"{gw.base_url}/v1/jobs/{job['id']}", headers=_headers(key)).status_code
            != 404
        ):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert not [p for p in blobs.iterdir() if p.name.startswith("jobin-")]
        assert httpx.get(gw.base_url + "/v1/jobs", headers=_headers(key)).json()["data"] == []
    finally:
        gw.stop()


def test_a_job_is_grounded_page_by_page_and_merged_by_provenance(tmp_path: Path) -> None:
    """Pages read in separate ranges keep their words, so the merged document is grounded
    (and judged) as the synchronous path grounds it: a value from page 2 boxed on page 2,
    an invented total found nowhere."""
    from tests.support.pages import field_boxes, invoice_page, iou, text_pdf

    stub = start_stub(tmp_path)
    env = {**FAST, "GATEWAY_BACKGROUND_MAX_IN_FLIGHT": "1", "GATEWAY_JOB_RANGE_PAGES": "1"}
    gw = start_gateway(stub.base_url, tmp_path, **env)
    try:
        key = gw.create_key("alice", scopes=["extract"])
        page = invoice_page()
        d = page.data
        first = {
            "vendor_name": d["vendor"],
            "invoice_number": d["invoice_number"],
            "invoice_date": d["invoice_date"],
            "line_items": d["line_items"][:2],
        }
        second = {"line_items": d["line_items"][2:], "total": 1253.71}  # printed nowhere
        httpx.post(stub.base_url + "/stub/script", json=[json.dumps(first), json.dumps(second)])
        body = {"image_url": _url(text_pdf([page, page])), "grounding": True, "seed": 1}
        r = httpx.post(
            gw.base_url + "/v1/extract/invoice",
            headers=_headers(key, **ASYNC),
            json=body,
            timeout=60,
        )
        assert r.status_code == 202, r.text
        done = _wait(gw, key, r.json()["id"])
        assert done["status"] == "completed", done
        result = done["result"]
        assert result["provenance"]["/line_items/2"] == 2
        merged = result["grounding"]
        assert merged["/invoice_number"]["page"] == 1
        gloves = merged["/line_items/2/description"]
        truth = field_boxes(page, "/line_items/2/description")
        assert gloves["page"] == 2 and gloves["source"] == "pdf_text"
        assert all(iou(f, t) >= 0.5 for f, t in zip(gloves["boxes"], truth, strict=True))
        assert merged["/total"] is None
        check = next(c for c in result["checks"] if c["name"] == "grounding")
        assert check["status"] == "fail" and check["fields"] == ["/total"]
        assert result["review"] is True
        pages = {p["page"]: p for p in result["pages"]}
        assert pages[2]["grounding"]["/line_items/0/description"]["page"] == 2
    finally:
        gw.stop()
        stub.stop()
