"""The Batch API against a stub upstream: the SDK's whole flow, validation failures, cancel,
expiry, keys and scopes, a gateway SIGKILLed mid-batch, an engine that goes away and comes
back. (The real engine answers lines in ``test_batch_engine.py``.)"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.batches import chat_line, jsonl, results, sdk, submit, wait_for
from tests.support.gateway_server import GatewayServer, Proc, start_gateway, start_stub
from tests.support.images import data_url, make_image

FAST = {"GATEWAY_BATCH_POLL_S": "0.2"}


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_stub(tmp_path_factory.mktemp("batch-stub"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def gateway(stub: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    gw = start_gateway(
        stub.base_url,
        tmp_path_factory.mktemp("batch-gw"),
        GATEWAY_MODEL_NAME="stub-script",  # extraction asks the stub's scripted answers
        **FAST,
    )
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def alice(gateway: GatewayServer) -> openai.OpenAI:
    return sdk(gateway.base_url, gateway.create_key("alice"))


def _ids(lines: list[dict[str, object]]) -> list[object]:
    return [line["custom_id"] for line in lines]


def test_upload_create_poll_and_download(alice: openai.OpenAI) -> None:
    lines = [chat_line(f"ok-{i}") for i in range(5)]
    lines.insert(2, chat_line("refused", messages=[]))  # the chat route's own 400
    batch = submit(alice, jsonl(lines))
    assert batch.status == "validating"
    done = wait_for(alice, batch.id)
    assert done.status == "completed", done
    assert done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed) == (6, 5)
    assert done.request_counts.failed == 1
    assert done.in_progress_at and done.finalizing_at and done.completed_at
    output = results(alice, done.output_file_id)
    assert _ids(output) == [f"ok-{i}" for i in range(5)]  # in input order
    for line in output:
        assert line["error"] is None and line["response"]["status_code"] == 200
        assert line["response"]["body"]["choices"][0]["message"]["content"]
        assert line["id"].startswith("batch_req_")
        assert line["response"]["request_id"].startswith("req_")
    errors = results(alice, done.error_file_id)
    assert _ids(errors) == ["refused"]
    refused = errors[0]["response"]
    assert refused["status_code"] == 400
    assert refused["body"]["error"]["param"] == "messages"
    # the listing pages as OpenAI's does
    newer = submit(alice, jsonl([chat_line("one")]))
    page = alice.batches.list(limit=1)
    assert [b.id for b in page.data] == [newer.id] and page.has_more
    following = alice.batches.list(limit=1, after=newer.id)
    assert [b.id for b in following.data] == [batch.id]
    assert {f.id for f in alice.files.list()} >= {batch.input_file_id, done.output_file_id}


def test_metadata_and_a_line_asking_for_a_stream(alice: openai.OpenAI) -> None:
    uploaded = alice.files.create(
        file=("in.jsonl", jsonl([chat_line("s", stream=True), chat_line("p", priority=0)])),
        purpose="batch",
    )
    batch = alice.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"month": "november"},
    )
    done = wait_for(alice, batch.id)
    assert done.metadata == {"month": "november"} and done.status == "completed"
    errors = {line["custom_id"]: line["response"] for line in results(alice, done.error_file_id)}
    assert errors["s"]["status_code"] == 400 and errors["s"]["body"]["error"]["param"] == "stream"
    assert errors["p"]["body"]["error"]["param"] == "priority"  # the gateway sets priority


def test_validation_failures_name_each_line(alice: openai.OpenAI) -> None:
    data = b"\n".join(
        [
            json.dumps(chat_line("a")).encode(),
            b"{not json",
            json.dumps({**chat_line("b"), "url": "/v1/embeddings"}).encode(),
            json.dumps({**chat_line("c"), "url": "/v1/responses"}).encode(),
            json.dumps(chat_line("a")).encode(),
        ]
    )
    batch = wait_for(alice, submit(alice, data).id)
    assert batch.status == "failed" and batch.failed_at
    assert batch.errors is not None and batch.errors.data is not None
    found = [(e.code, e.line) for e in batch.errors.data]
    assert found == [
        ("invalid_json_line", 2),
        ("invalid_url", 3),
        ("mismatched_url", 4),
        ("duplicate_custom_id", 5),
    ]
    assert batch.output_file_id is None and batch.request_counts is not None
    assert batch.request_counts.total == 0


def test_too_many_lines_fails_validation(stub: Proc, tmp_path: Path) -> None:
    gw = start_gateway(stub.base_url, tmp_path, GATEWAY_BATCH_MAX_LINES="3", **FAST)
    try:
        client = sdk(gw.base_url, gw.create_key("alice"))
        batch = wait_for(client, submit(client, jsonl([chat_line(f"{i}") for i in range(4)])).id)
        assert batch.status == "failed"
        assert batch.errors and batch.errors.data
        assert [(e.code, e.line) for e in batch.errors.data] == [("too_many_lines", 4)]
    finally:
        gw.stop()


def test_keys_see_only_their_own_and_need_the_endpoint_scope(
    gateway: GatewayServer, alice: openai.OpenAI
) -> None:
    batch = submit(alice, jsonl([chat_line("x")]))
    bob = sdk(gateway.base_url, gateway.create_key("bob"))
    for call in (
        lambda: bob.batches.retrieve(batch.id),
        lambda: bob.batches.cancel(batch.id),
        lambda: bob.files.retrieve(batch.input_file_id),
        lambda: bob.files.content(batch.input_file_id),
        lambda: bob.files.delete(batch.input_file_id),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    assert bob.batches.list().data == [] and bob.files.list().data == []
    reader = sdk(gateway.base_url, gateway.create_key("reader", scopes=["extract"]))
    uploaded = reader.files.create(file=("in.jsonl", jsonl([chat_line("x")])), purpose="batch")
    with pytest.raises(openai.PermissionDeniedError):
        reader.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    with pytest.raises(openai.BadRequestError):
        alice.batches.create(
            input_file_id=batch.input_file_id, endpoint="/v1/embeddings", completion_window="24h"
        )


def test_a_deleted_file_is_gone_at_once(alice: openai.OpenAI) -> None:
    uploaded = alice.files.create(file=("in.jsonl", jsonl([chat_line("x")])), purpose="batch")
    assert alice.files.content(uploaded.id).content == jsonl([chat_line("x")])
    assert alice.files.delete(uploaded.id).deleted
    with pytest.raises(openai.NotFoundError):
        alice.files.content(uploaded.id)


def test_uploads_have_their_own_cap_and_clients_cannot_send_priority(
    stub: Proc, tmp_path: Path
) -> None:
    gw = start_gateway(
        stub.base_url,
        tmp_path,
        GATEWAY_BATCH_MAX_FILE_BYTES="2000",
        GATEWAY_MAX_BODY_BYTES="1024",
        GATEWAY_FILES_DIR=str(tmp_path / "blobs"),
    )
    try:
        key = gw.create_key("alice")
        client = sdk(gw.base_url, key)
        fits = jsonl([chat_line(f"{i}") for i in range(12)])[:1900]  # over the body cap
        assert client.files.create(file=("a.jsonl", fits), purpose="batch").bytes == len(fits)
        with pytest.raises(openai.APIStatusError) as refused:
            client.files.create(file=("b.jsonl", b"x" * 2001), purpose="batch")
        assert refused.value.status_code == 413
        assert [p.name for p in (tmp_path / "blobs").iterdir()] != []
        assert not [p for p in (tmp_path / "blobs").iterdir() if p.name.endswith(".partial")]
        r = httpx.post(
            gw.base_url + "/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={**chat_line("x")["body"], "priority": -5},
        )
        assert r.status_code == 400 and r.json()["error"]["param"] == "priority"
    finally:
        gw.stop()


def test_cancel_finishes_running_lines_and_reports_the_rest(tmp_path: Path) -> None:
    stub = start_stub(tmp_path)
    gw = start_gateway(stub.base_url, tmp_path, GATEWAY_BACKGROUND_MAX_IN_FLIGHT="1", **FAST)
    try:
        client = sdk(gw.base_url, gw.create_key("alice"))
        batch = submit(client, jsonl([chat_line(f"h{i}", model="stub-hold") for i in range(4)]))
        _wait_held(stub, 1)
        cancelling = client.batches.cancel(batch.id)
        assert cancelling.status == "cancelling" and cancelling.cancelling_at
        time.sleep(0.5)
        assert client.batches.retrieve(batch.id).status == "cancelling"  # a line still runs
        httpx.get(stub.base_url + "/stub/release")
        done = wait_for(client, batch.id)
        assert done.status == "cancelled" and done.cancelled_at
        assert _ids(results(client, done.output_file_id)) == ["h0"]
        errors = results(client, done.error_file_id)
        assert _ids(errors) == ["h1", "h2", "h3"]
        assert {e["error"]["code"] for e in errors} == {"batch_cancelled"}
        assert httpx.get(stub.base_url + "/stub/events").json()["requests"] == 1
    finally:
        gw.stop()
        stub.stop()


def test_a_batch_past_its_window_expires(tmp_path: Path) -> None:
    stub = start_stub(tmp_path)
    gw = start_gateway(
        stub.base_url,
        tmp_path,
        GATEWAY_BATCH_WINDOW_S="3",
        GATEWAY_BACKGROUND_MAX_IN_FLIGHT="1",
        **FAST,
    )
    try:
        client = sdk(gw.base_url, gw.create_key("alice"))
        batch = submit(client, jsonl([chat_line(f"e{i}", model="stub-hold") for i in range(3)]))
        done = wait_for(client, batch.id, timeout=30)
        assert done.status == "expired" and done.expired_at and done.output_file_id is None
        errors = results(client, done.error_file_id)
        assert _ids(errors) == ["e0", "e1", "e2"]
        assert {e["error"]["code"] for e in errors} == {"batch_expired"}
        httpx.get(stub.base_url + "/stub/release")  # the held line answers: nothing changes
        time.sleep(1.0)
        assert _ids(results(client, client.batches.retrieve(batch.id).error_file_id)) == [
            "e0",
            "e1",
            "e2",
        ]
    finally:
        gw.stop()
        stub.stop()


def test_revoking_the_key_stops_its_queued_work(tmp_path: Path) -> None:
    stub = start_stub(tmp_path)
    gw = start_gateway(stub.base_url, tmp_path, GATEWAY_BACKGROUND_MAX_IN_FLIGHT="1", **FAST)
    try:
        client = sdk(gw.base_url, gw.create_key("alice"))
        batch = submit(client, jsonl([chat_line(f"r{i}", model="stub-hold") for i in range(3)]))
        _wait_held(stub, 1)
        assert gw.cli("keys", "revoke", "alice").returncode == 0
        deadline = time.monotonic() + 20
        while _status(gw, batch.id) != "cancelled":
            assert time.monotonic() < deadline, _status(gw, batch.id)
            time.sleep(0.2)
        httpx.get(stub.base_url + "/stub/release")
        time.sleep(1.0)
        assert httpx.get(stub.base_url + "/stub/events").json()["requests"] == 1
    finally:
        gw.stop()
        stub.stop()


def test_a_gateway_killed_mid_batch_finishes_it_after_restart(tmp_path: Path) -> None:
    stub = start_stub(tmp_path, service_ms=300)
    env = {"GATEWAY_BACKGROUND_MAX_IN_FLIGHT": "2", "GATEWAY_BATCH_LEASE_S": "2", **FAST}
    gw = start_gateway(stub.base_url, tmp_path, **env)
    try:
        client = sdk(gw.base_url, gw.create_key("alice"))
        lines = [chat_line(f"k{i:02d}") for i in range(16)]
        batch = submit(client, jsonl(lines))
        running = wait_for(client, batch.id, until=("in_progress",))
        while (running.request_counts is None or running.request_counts.completed < 3) and (
            running.status == "in_progress"
        ):
            time.sleep(0.1)
            running = client.batches.retrieve(batch.id)
        assert running.status == "in_progress", running  # killed in the middle
        os.killpg(gw.proc.pid, signal.SIGKILL)
        gw.proc.wait(10)
        gw = start_gateway(stub.base_url, tmp_path, GATEWAY_KEYS_DB=str(gw.keys_db), **env)
        client = sdk(gw.base_url, client.api_key)
        done = wait_for(client, batch.id)
        assert done.status == "completed" and done.request_counts is not None
        assert (done.request_counts.completed, done.request_counts.failed) == (16, 0)
        assert _ids(results(client, done.output_file_id)) == [f"k{i:02d}" for i in range(16)]
        assert done.error_file_id is None
    finally:
        gw.stop()
        stub.stop()


def test_lines_wait_for_an_engine_that_went_away(tmp_path: Path) -> None:
    stub = start_stub(tmp_path, service_ms=200)
    port = int(stub.base_url.rsplit(":", 1)[1])
    gw = start_gateway(
        stub.base_url,
        tmp_path,
        GATEWAY_BACKGROUND_MAX_IN_FLIGHT="1",
        GATEWAY_BATCH_RETRY_BACKOFF_S="0.2",
        **FAST,
    )
    try:
        client = sdk(gw.base_url, gw.create_key("alice"))
        batch = submit(client, jsonl([chat_line(f"d{i}") for i in range(10)]))
        running = wait_for(client, batch.id, until=("in_progress",))
        while running.request_counts is None or running.request_counts.completed < 2:
            time.sleep(0.05)
            running = client.batches.retrieve(batch.id)
        stub.stop()  # connections refused from now on
        time.sleep(3.0)
        assert client.batches.retrieve(batch.id).status == "in_progress"
        stub = start_stub(tmp_path, port=port, service_ms=200)
        done = wait_for(client, batch.id, timeout=120)
        assert done.status == "completed" and done.request_counts is not None
        assert (done.request_counts.completed, done.request_counts.failed) == (10, 0)
        assert _ids(results(client, done.output_file_id)) == [f"d{i}" for i in range(10)]
    finally:
        gw.stop()
        stub.stop()


def test_queue_gauges_are_exported(gateway: GatewayServer, alice: openai.OpenAI) -> None:
    text = httpx.get(
        gateway.base_url + "/metrics", headers={"Authorization": f"Bearer {alice.api_key}"}
    ).text
    assert 'gateway_queue_depth{kind="batch_line"}' in text
    assert 'gateway_queue_oldest_age_seconds{kind="batch_line"}' in text
    assert "gateway_background_calls_in_flight" in text


def _wait_held(stub: Proc, count: int) -> None:
    deadline = time.monotonic() + 20
    while httpx.get(stub.base_url + "/stub/events").json()["held"] < count:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def _status(gw: GatewayServer, batch_id: str) -> str:
    with sqlite3.connect(gw.keys_db) as db:
        return str(db.execute("SELECT status FROM batches WHERE id=?", (batch_id,)).fetchone()[0])


def test_batch_calls_carry_the_background_priority(
    stub: Proc, gateway: GatewayServer, alice: openai.OpenAI
) -> None:
    httpx.post(stub.base_url + "/stub/script", json=["one", "two"])
    done = wait_for(alice, submit(alice, jsonl([chat_line("p", model="stub-script")])).id)
    assert done.status == "completed"
    alice.chat.completions.create(
        model="stub-script", messages=[{"role": "user", "content": "interactive"}]
    )
    seen = httpx.get(stub.base_url + "/stub/seen").json()
    assert [s["priority"] for s in seen] == [10, None]  # the interactive call: vLLM's 0


def test_extraction_lines_run_the_pipeline_at_the_background_priority(
    stub: Proc, alice: openai.OpenAI
) -> None:
    httpx.post(stub.base_url + "/stub/script", json=['{"count":2,"confidence":"high"}'])
    line = {
        "custom_id": "people",
        "method": "POST",
        "url": "/v1/extract/people_count",
        "body": {"image_url": data_url(make_image(64, 48, seed=2)), "num_crops": 1},
    }
    batch = submit(alice, jsonl([line]), "/v1/extract/people_count")
    done = wait_for(alice, batch.id)
    [answer] = results(alice, done.output_file_id)
    assert answer["response"]["body"]["data"] == {"count": 2, "confidence": "high"}, answer
    assert answer["response"]["body"]["schema"] == "people_count"
    assert [s["priority"] for s in httpx.get(stub.base_url + "/stub/seen").json()] == [10]


def test_files_expire_and_are_deleted_for_good(stub: Proc, tmp_path: Path) -> None:
    blobs = tmp_path / "blobs"
    gw = start_gateway(
        stub.base_url,
        tmp_path,
        GATEWAY_FILES_TTL_S="1",
        GATEWAY_FILES_DIR=str(blobs),
        **FAST,
    )
    try:
        client = sdk(gw.base_url, gw.create_key("alice"))
        uploaded = client.files.create(file=("a.jsonl", jsonl([chat_line("x")])), purpose="batch")
        assert (blobs / uploaded.id).exists()
        deadline = time.monotonic() + 15
        while (blobs / uploaded.id).exists():
            assert time.monotonic() < deadline
            time.sleep(0.2)
        with pytest.raises(openai.NotFoundError):
            client.files.retrieve(uploaded.id)
    finally:
        gw.stop()


def test_a_malformed_upload_is_a_400(gateway: GatewayServer, alice: openai.OpenAI) -> None:
    headers = {
        "Authorization": f"Bearer {alice.api_key}",
        "content-type": "multipart/form-data; boundary=xyz",
    }
    r = httpx.post(gateway.base_url + "/v1/files", headers=headers, content=b"--xyz\r\nbroken")
    assert r.status_code == 400, r.text
    r = httpx.post(gateway.base_url + "/v1/files", headers=headers | {"content-type": "text/plain"})
    assert r.status_code == 400


def test_two_worker_processes_share_a_batch_without_duplicates(tmp_path: Path) -> None:
    stub = start_stub(tmp_path, service_ms=100)
    gw = start_gateway(
        stub.base_url,
        tmp_path,
        GATEWAY_WORKERS="2",
        GATEWAY_BACKGROUND_MAX_IN_FLIGHT="2",
        **FAST,
    )
    try:
        client = sdk(gw.base_url, gw.create_key("alice"))
        batch = submit(client, jsonl([chat_line(f"w{i:02d}") for i in range(24)]))
        done = wait_for(client, batch.id)
        assert done.status == "completed" and done.request_counts is not None
        assert (done.request_counts.completed, done.request_counts.failed) == (24, 0)
        assert _ids(results(client, done.output_file_id)) == [f"w{i:02d}" for i in range(24)]
        assert httpx.get(stub.base_url + "/stub/events").json()["requests"] == 24
    finally:
        gw.stop()
        stub.stop()
