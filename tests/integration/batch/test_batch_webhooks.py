"""Signed webhooks for batches, against a stub upstream: a receiver on loopback gets the
``batch.*`` event of a batch created with the openai SDK and ``extra_body={"webhook_url":
…}``, and verifies it with the SDK's ``webhooks.unwrap`` and with ``standardwebhooks``; a key
with its own secret gets events only that secret verifies; a request naming a webhook is
refused (400) with no secret to sign it, or with a private or plain-http target.
(Retries and giving up: ``tests/unit/gateway/webhooks/test_webhook_delivery.py``.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import standardwebhooks

from gateway.auth.keys import new_webhook_secret
from tests.support.batches import chat_line, jsonl, sdk, wait_for
from tests.support.gateway_server import GatewayServer, Proc, start_gateway, start_stub
from tests.support.webhook_receiver import Delivered, Receiver

GLOBAL = new_webhook_secret()
FAST = {"GATEWAY_BATCH_POLL_S": "0.2"}


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_stub(tmp_path_factory.mktemp("hooks-stub"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def gateway(stub: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    """Signs with GLOBAL; the receiver is on loopback, so the test-only setting is on."""
    gw = start_gateway(
        stub.base_url,
        tmp_path_factory.mktemp("hooks-gw"),
        GATEWAY_WEBHOOK_SECRET=GLOBAL,
        GATEWAY_ALLOW_PRIVATE_FETCH="true",
        **FAST,
    )
    yield gw
    gw.stop()


def _create(client: openai.OpenAI, data: bytes, url: str) -> str:
    uploaded = client.files.create(file=("in.jsonl", data), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        extra_body={"webhook_url": url},
    )
    return batch.id


def _unwrap(hit: Delivered, secret: str) -> object:
    """The event, verified by both the openai SDK and standardwebhooks (either raises)."""
    standardwebhooks.Webhook(secret).verify(hit.body, hit.headers)
    return openai.OpenAI(api_key="unused").webhooks.unwrap(hit.body, hit.headers, secret=secret)


def test_a_finished_batch_is_announced_signed(gateway: GatewayServer) -> None:
    key = gateway.create_key("alice")
    with sdk(gateway.base_url, key) as client, Receiver() as rx:
        batch_id = _create(client, jsonl([chat_line("a"), chat_line("b")]), rx.url)
        assert wait_for(client, batch_id).status == "completed"
        [hit] = rx.wait_for(1)
        failed_id = _create(client, b"{not json\n", rx.url)
        assert wait_for(client, failed_id).status == "failed"
        [_, failed] = rx.wait_for(2)
    event = _unwrap(hit, GLOBAL)
    assert isinstance(event, openai.types.webhooks.BatchCompletedWebhookEvent)
    assert event.data.id == batch_id and event.id.startswith("evt_")
    assert hit.headers["webhook-id"].startswith("wh_")
    assert hit.headers["content-type"] == "application/json" and hit.path == "/hooks"
    gone = _unwrap(failed, GLOBAL)
    assert isinstance(gone, openai.types.webhooks.BatchFailedWebhookEvent)
    assert gone.data.id == failed_id
    metrics = httpx.get(
        gateway.base_url + "/metrics", headers={"Authorization": f"Bearer {key}"}
    ).text
    assert 'gateway_queue_depth{kind="webhook"}' in metrics
    assert 'gateway_queue_oldest_age_seconds{kind="webhook"}' in metrics


def test_a_key_with_its_own_secret_gets_events_only_it_verifies(gateway: GatewayServer) -> None:
    made = gateway.cli("keys", "create", "--name", "tenant", "--webhook-secret")
    assert made.returncode == 0, made.stderr
    key, own = made.stdout.split()
    with sdk(gateway.base_url, key) as client, Receiver() as rx:
        batch_id = _create(client, jsonl([chat_line("a")]), rx.url)
        wait_for(client, batch_id)
        [hit] = rx.wait_for(1)
    assert _unwrap(hit, own).data.id == batch_id  # type: ignore[attr-defined]
    with pytest.raises(openai.InvalidWebhookSignatureError):
        openai.OpenAI(api_key="unused").webhooks.unwrap(hit.body, hit.headers, secret=GLOBAL)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(GLOBAL).verify(hit.body, hit.headers)


def test_a_webhook_without_a_secret_or_to_a_private_target_is_refused(
    stub: Proc, tmp_path: Path
) -> None:
    """No GATEWAY_WEBHOOK_SECRET and no GATEWAY_ALLOW_PRIVATE_FETCH here."""
    gw = start_gateway(stub.base_url, tmp_path, **FAST)
    key, _ = gw.cli("keys", "create", "--name", "own", "--webhook-secret").stdout.split()
    try:
        with sdk(gw.base_url, gw.create_key("plain")) as plain, sdk(gw.base_url, key) as own:
            _refusals(plain, own)
    finally:
        gw.stop()


def _refusals(plain: openai.OpenAI, own: openai.OpenAI) -> None:
    """The two 400s: nothing to sign with (``plain``), a target refused (``own``)."""
    with pytest.raises(openai.BadRequestError) as unsigned:
        _create(plain, jsonl([chat_line("a")]), "https://hooks.example.com/in")
    assert unsigned.value.param == "webhook_url"
    assert unsigned.value.code == "webhooks_not_configured"
    assert "GATEWAY_WEBHOOK_SECRET" in unsigned.value.message
    for url, why in (
        ("https://127.0.0.1:9/in", "loopback"),
        ("https://10.0.0.7/in", "private"),
        ("https://169.254.169.254/latest", "metadata"),
        ("http://93.184.216.34/in", "scheme 'http:'"),
    ):
        with pytest.raises(openai.BadRequestError) as refused:
            _create(own, jsonl([chat_line("a")]), url)
        assert refused.value.param == "webhook_url" and why in refused.value.message
        assert refused.value.code == "webhook_url_refused"
    assert own.batches.list().data == [] and plain.batches.list().data == []


def _job(gateway: GatewayServer, key: str, body: dict[str, object]) -> str:
    r = httpx.post(
        gateway.base_url + "/v1/extract/table",
        headers={"Authorization": f"Bearer {key}", "Prefer": "respond-async"},
        json=body,
        timeout=60,
    )
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def test_an_extraction_job_announces_its_end_signed(gateway: GatewayServer, stub: Proc) -> None:
    """Completed and cancelled jobs each send their event, queued with the job's end."""
    import base64
    import json

    from tests.support.documents import pdf_bytes, text_page

    key = gateway.create_key("jobs", scopes=["extract"])
    rows = json.dumps({"title": None, "columns": ["a"], "rows": [["x"]]})
    httpx.post(stub.base_url + "/stub/script", json=[rows])
    pdf = base64.b64encode(pdf_bytes([text_page(1, (200, 260))], dpi=30)).decode()
    with Receiver() as rx:
        body = {"image_url": f"data:application/pdf;base64,{pdf}", "num_crops": 1}
        done_id = _job(gateway, key, body | {"webhook_url": rx.url})
        [hit] = rx.wait_for(1)
        event = json.loads(_verified(hit, GLOBAL))
        assert event["type"] == "extraction.job.completed" and event["data"]["id"] == done_id
        job = httpx.get(
            f"{gateway.base_url}/v1/jobs/{done_id}", headers={"Authorization": f"Bearer {key}"}
        ).json()
        assert job["status"] == "completed"
        # A job cancelled before it ran is announced too.
        stopped = _job(gateway, key, body | {"webhook_url": rx.url, "pages": "1"})
        httpx.post(
            f"{gateway.base_url}/v1/jobs/{stopped}/cancel",
            headers={"Authorization": f"Bearer {key}"},
        )
        [_, second] = rx.wait_for(2)
    event = json.loads(_verified(second, GLOBAL))
    assert event["data"]["id"] == stopped
    assert event["type"] in ("extraction.job.cancelled", "extraction.job.completed")


def _verified(hit: Delivered, secret: str) -> bytes:
    """The body, its signature checked by the openai SDK and by standardwebhooks."""
    standardwebhooks.Webhook(secret).verify(hit.body, hit.headers)
    openai.OpenAI(api_key="unused").webhooks.verify_signature(hit.body, hit.headers, secret=secret)
    return hit.body
