"""The Batch API on a PostgreSQL key store, through the openai SDK against the stub upstream:
the whole flow on one gateway (file bytes in the database), and two gateways sharing one
batch's lines, one of them SIGKILLed mid-batch while the other finishes it."""

from __future__ import annotations

import os
import re
import signal
import time
from collections import Counter
from itertools import count
from pathlib import Path

import httpx
import openai
import psycopg
import pytest

from tests.support.batches import chat_line, jsonl, results, sdk, submit, wait_for
from tests.support.gateway_server import GatewayServer, start_gateway, start_stub
from tests.support.pg import PostgresServer

_DATABASES = count()
FAST = {"GATEWAY_BATCH_POLL_S": "0.2"}


def _database(server: PostgresServer) -> str:
    return server.fresh_database(f"batch_replicas_{next(_DATABASES)}")


def _ids(lines: list[dict[str, object]]) -> list[object]:
    return [line["custom_id"] for line in lines]


def _count(url: str, sql: str, *args: object) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql.encode(), args).fetchone()
    return int(row[0]) if row else 0


def _upstream_calls(gw: GatewayServer, key: str) -> float:
    """What this gateway sent upstream (``gateway_upstream_requests_total``, all replicas)."""
    text = httpx.get(
        gw.base_url + "/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=10
    ).text
    found = re.findall(r"^gateway_upstream_requests_total\{[^}]*\} (\S+)$", text, re.M)
    return sum(float(v) for v in found)


def test_the_sdk_flow_on_postgresql(postgres_server: PostgresServer, tmp_path: Path) -> None:
    url = _database(postgres_server)
    stub = start_stub(tmp_path)
    gw = start_gateway(stub.base_url, tmp_path, GATEWAY_KEYS_DB=url, **FAST)
    try:
        client = sdk(gw.base_url, gw.create_key("alice"))
        lines = [chat_line(f"ok-{i}") for i in range(6)]
        lines.insert(3, chat_line("refused", messages=[]))  # the chat route's own 400
        batch = submit(client, jsonl(lines))
        assert batch.status == "validating"
        done = wait_for(client, batch.id)
        assert done.status == "completed", done
        assert done.request_counts is not None
        assert (done.request_counts.total, done.request_counts.completed) == (7, 6)
        output = results(client, done.output_file_id)
        assert _ids(output) == [f"ok-{i}" for i in range(6)]
        assert all(line["response"]["status_code"] == 200 for line in output)
        assert _ids(results(client, done.error_file_id)) == ["refused"]
        assert httpx.get(stub.base_url + "/stub/events").json()["requests"] == 6
        assert [b.id for b in client.batches.list().data] == [batch.id]
        # the bytes live in the database; deleting a file removes its row and its chunks
        assert done.output_file_id is not None
        assert (
            _count(
                url, "SELECT count(*) FROM batch_blob_chunks WHERE blob_id=%s", done.output_file_id
            )
            >= 1
        )
        assert _count(url, "SELECT count(*) FROM batch_lines") == 0  # dropped at the end
        client.files.delete(batch.input_file_id)
        with pytest.raises(openai.NotFoundError):
            client.files.content(batch.input_file_id)
        for table, column in (
            ("batch_files", "id"),
            ("batch_blobs", "id"),
            ("batch_blob_chunks", "blob_id"),
        ):
            assert (
                _count(url, f"SELECT count(*) FROM {table} WHERE {column}=%s", batch.input_file_id)
                == 0
            )
        assert _count(url, "SELECT count(*) FROM procrastinate_jobs") == 0  # none left over
    finally:
        gw.stop()
        stub.stop()


def test_two_gateways_share_a_batch_and_one_finishes_it_after_the_other_is_killed(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = _database(postgres_server)
    stub = start_stub(tmp_path, service_ms=150)
    env = {
        "GATEWAY_KEYS_DB": url,
        "GATEWAY_BACKGROUND_MAX_IN_FLIGHT": "2",
        "GATEWAY_BATCH_LEASE_S": "2",
        **FAST,
    }
    a = start_gateway(stub.base_url, tmp_path, **env)
    b = start_gateway(stub.base_url, tmp_path, **env)
    try:
        key = a.create_key("alice")
        client = sdk(a.base_url, key)
        names = [f"r{i:02d}" for i in range(40)]
        batch = submit(client, jsonl([chat_line(n) for n in names]))
        running = wait_for(client, batch.id, until=("in_progress",))
        while running.request_counts is None or running.request_counts.completed < 10:
            assert running.status == "in_progress", running
            time.sleep(0.05)
            running = client.batches.retrieve(batch.id)
        ran_a, ran_b = _upstream_calls(a, key), _upstream_calls(b, key)
        assert ran_a >= 1 and ran_b >= 1, (ran_a, ran_b)  # both replicas took lines
        os.killpg(b.proc.pid, signal.SIGKILL)  # mid-batch, lines in flight
        b.proc.wait(10)
        done = wait_for(client, batch.id, timeout=90)
        assert done.status == "completed", done
        assert done.request_counts is not None
        assert (done.request_counts.completed, done.request_counts.failed) == (40, 0)
        seen = Counter(_ids(results(client, done.output_file_id)))
        assert sorted(seen) == names and set(seen.values()) == {1}  # each exactly once
        assert done.error_file_id is None
        assert _upstream_calls(a, key) > ran_a  # the survivor ran what was left
    finally:
        a.stop()
        b.stop()
        stub.stop()


def test_cancel_on_postgresql_runs_no_queued_line(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = _database(postgres_server)
    stub = start_stub(tmp_path)
    env = {"GATEWAY_KEYS_DB": url, "GATEWAY_BACKGROUND_MAX_IN_FLIGHT": "1", **FAST}
    gw = start_gateway(stub.base_url, tmp_path, **env)
    try:
        client = sdk(gw.base_url, gw.create_key("alice"))
        batch = submit(client, jsonl([chat_line(f"h{i}", model="stub-hold") for i in range(4)]))
        deadline = time.monotonic() + 20
        while httpx.get(stub.base_url + "/stub/events").json()["held"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert client.batches.cancel(batch.id).status == "cancelling"
        httpx.get(stub.base_url + "/stub/release")
        done = wait_for(client, batch.id)
        assert done.status == "cancelled" and done.cancelled_at
        assert _ids(results(client, done.output_file_id)) == ["h0"]
        errors = results(client, done.error_file_id)
        assert _ids(errors) == ["h1", "h2", "h3"]
        assert {e["error"]["code"] for e in errors} == {"batch_cancelled"}
        time.sleep(1.0)  # the queued lines' jobs end without running them
        assert httpx.get(stub.base_url + "/stub/events").json()["requests"] == 1
        assert _count(url, "SELECT count(*) FROM procrastinate_jobs") == 0
    finally:
        gw.stop()
        stub.stop()


def test_lines_wait_on_postgresql_for_an_engine_that_went_away(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = _database(postgres_server)
    stub = start_stub(tmp_path, service_ms=200)
    port = int(stub.base_url.rsplit(":", 1)[1])
    env = {
        "GATEWAY_KEYS_DB": url,
        "GATEWAY_BACKGROUND_MAX_IN_FLIGHT": "1",
        "GATEWAY_BATCH_RETRY_BACKOFF_S": "0.2",
        **FAST,
    }
    gw = start_gateway(stub.base_url, tmp_path, **env)
    try:
        client = sdk(gw.base_url, gw.create_key("alice"))
        batch = submit(client, jsonl([chat_line(f"d{i}") for i in range(8)]))
        running = wait_for(client, batch.id, until=("in_progress",))
        while running.request_counts is None or running.request_counts.completed < 2:
            time.sleep(0.05)
            running = client.batches.retrieve(batch.id)
        stub.stop()  # connections refused from now on
        time.sleep(3.0)
        assert client.batches.retrieve(batch.id).status == "in_progress"
        assert _count(url, "SELECT count(*) FROM batch_lines WHERE retries > 0") >= 1
        stub = start_stub(tmp_path, port=port, service_ms=200)
        done = wait_for(client, batch.id, timeout=120)
        assert done.status == "completed" and done.request_counts is not None
        assert (done.request_counts.completed, done.request_counts.failed) == (8, 0)
        assert _ids(results(client, done.output_file_id)) == [f"d{i}" for i in range(8)]
    finally:
        gw.stop()
        stub.stop()
