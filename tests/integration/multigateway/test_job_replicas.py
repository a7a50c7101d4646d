"""Async extraction jobs and webhooks on a PostgreSQL key store, against the stub upstream:
two gateways share one job's page ranges and one finishes it after the other is SIGKILLed
(every page exactly once); a batch and a job each send one signed event, verified with
``standardwebhooks`` and the openai SDK, with two gateways delivering."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import time
from collections import Counter
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import openai
import psycopg
import standardwebhooks

from gateway.auth.keys import new_webhook_secret
from tests.support.batches import chat_line, jsonl, sdk, wait_for
from tests.support.documents import pdf_bytes, text_page
from tests.support.gateway_server import GatewayServer, Proc, start_gateway, start_stub
from tests.support.pg import PostgresServer
from tests.support.webhook_receiver import Delivered, Receiver

_DATABASES = count()
FAST = {"GATEWAY_BATCH_POLL_S": "0.2", "GATEWAY_MODEL_NAME": "stub-script"}


def _database(server: PostgresServer) -> str:
    return server.fresh_database(f"job_replicas_{next(_DATABASES)}")


def _pdf_url(pages: int) -> str:
    data = pdf_bytes([text_page(n + 1, (200, 260)) for n in range(pages)], dpi=30)
    return "data:application/pdf;base64," + base64.b64encode(data).decode()


def _script(stub: Proc, count: int) -> None:
    rows = [
        json.dumps({"title": None, "columns": ["item"], "rows": [[f"r{i}"]]}) for i in range(count)
    ]
    httpx.post(stub.base_url + "/stub/script", json=rows)


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _submit(gw: GatewayServer, key: str, body: dict[str, Any]) -> str:
    r = httpx.post(
        gw.base_url + "/v1/extract/table",
        headers={**_headers(key), "Prefer": "respond-async"},
        json=body,
        timeout=60,
    )
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def _job(gw: GatewayServer, key: str, job_id: str) -> dict[str, Any]:
    r = httpx.get(f"{gw.base_url}/v1/jobs/{job_id}", headers=_headers(key), timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _wait(gw: GatewayServer, key: str, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (job := _job(gw, key, job_id))["status"] not in ("completed", "failed", "cancelled"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    return job


def _upstream_calls(gw: GatewayServer, key: str) -> float:
    text = httpx.get(gw.base_url + "/metrics", headers=_headers(key), timeout=10).text
    found = re.findall(r"^gateway_upstream_requests_total\{[^}]*\} (\S+)$", text, re.M)
    return sum(float(v) for v in found)


def test_two_gateways_share_a_job_and_one_finishes_it_after_the_other_is_killed(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = _database(postgres_server)
    stub = start_stub(tmp_path, service_ms=300)
    env = {
        "GATEWAY_KEYS_DB": url,
        "GATEWAY_BACKGROUND_MAX_IN_FLIGHT": "1",
        "GATEWAY_BATCH_LEASE_S": "2",
        "GATEWAY_JOB_RANGE_PAGES": "2",
        **FAST,
    }
    a = start_gateway(stub.base_url, tmp_path, **env)
    b = start_gateway(stub.base_url, tmp_path, **env)
    try:
        key = a.create_key("alice", scopes=["extract"])
        _script(stub, 200)
        job_id = _submit(a, key, {"image_url": _pdf_url(16), "num_crops": 1})
        running = _job(b, key, job_id)  # any replica answers for the job
        while running["progress"]["pages_done"] < 6:
            assert running["status"] in ("queued", "in_progress"), running
            time.sleep(0.05)
            running = _job(b, key, job_id)
        assert running["status"] == "in_progress", running  # killed in the middle
        assert _upstream_calls(a, key) > 0 and _upstream_calls(b, key) > 0  # shared ranges
        os.killpg(a.proc.pid, signal.SIGKILL)
        a.proc.wait(10)
        done = _wait(b, key, job_id)
        assert done["status"] == "completed", done
        pages = [p["page"] for p in done["result"]["pages"]]
        assert pages == list(range(1, 17))  # every page, exactly once
        assert len(done["result"]["data"]["rows"]) == 16
        assert done["progress"] == {"pages_total": 16, "pages_done": 16}
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM job_units").fetchone() == (0,)
    finally:
        a.stop()
        b.stop()
        stub.stop()


def _verified(hit: Delivered, secret: str) -> dict[str, Any]:
    """The event, its signature checked by standardwebhooks and by the openai SDK."""
    standardwebhooks.Webhook(secret).verify(hit.body, hit.headers)
    openai.OpenAI(api_key="unused").webhooks.verify_signature(hit.body, hit.headers, secret=secret)
    event = openai.OpenAI(api_key="unused").webhooks.unwrap(hit.body, hit.headers, secret=secret)
    assert event.type in ("batch.completed", "extraction.job.completed")
    return dict(json.loads(hit.body))


def test_a_batch_and_a_job_each_send_one_signed_event_with_two_gateways(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = _database(postgres_server)
    secret = new_webhook_secret()
    stub = start_stub(tmp_path)
    env = {
        "GATEWAY_KEYS_DB": url,
        "GATEWAY_WEBHOOK_SECRET": secret,
        "GATEWAY_ALLOW_PRIVATE_FETCH": "true",
        **FAST,
    }
    a = start_gateway(stub.base_url, tmp_path, **env)
    b = start_gateway(stub.base_url, tmp_path, **env)
    try:
        key = a.create_key("alice", scopes=["chat", "extract"])
        _script(stub, 50)
        with Receiver() as rx, sdk(a.base_url, key) as client:
            lines = [chat_line(f"c{i}", model="stub-script") for i in range(3)]
            uploaded = client.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch")
            batch = client.batches.create(
                input_file_id=uploaded.id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
                extra_body={"webhook_url": rx.url},
            )
            job_id = _submit(b, key, {"image_url": _pdf_url(3), "webhook_url": rx.url})
            assert wait_for(client, batch.id).status == "completed"
            assert _wait(a, key, job_id)["status"] == "completed"
            hits = rx.wait_for(2)
            time.sleep(3.0)  # both gateways poll every 0.2 s: a second send would be here
            hits = list(rx.received)
        events = sorted((_verified(h, secret) for h in hits), key=lambda e: str(e["type"]))
        assert [(e["type"], e["data"]["id"]) for e in events] == [
            ("batch.completed", batch.id),
            ("extraction.job.completed", job_id),
        ]  # one event per ending, though two gateways deliver
        ids = Counter(h.headers["webhook-id"] for h in hits)
        assert len(ids) == 2 and set(ids.values()) == {1}
        with psycopg.connect(url) as conn:
            states = conn.execute("SELECT state FROM webhook_deliveries").fetchall()
        assert states == [("delivered",), ("delivered",)]
    finally:
        a.stop()
        b.stop()
        stub.stop()
