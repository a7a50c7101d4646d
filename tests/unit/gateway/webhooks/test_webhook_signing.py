"""Signatures as Standard Webhooks define them: the openai SDK's ``webhooks.unwrap`` and the
``standardwebhooks`` package accept them, another secret or a stale timestamp does not."""

from __future__ import annotations

import time

import openai
import pytest
import standardwebhooks
from pydantic import ValidationError

from gateway.auth.keys import new_webhook_secret
from gateway.settings import Settings
from gateway.webhooks.events import event_body, event_ids
from gateway.webhooks.signing import check_secret, signed_headers


def _event() -> tuple[str, str]:
    webhook_id, event_id = event_ids("sk-owner", "batch.completed", "batch_1")
    return webhook_id, event_body(event_id, "batch.completed", "batch_1", time.time())


def test_a_signed_event_is_unwrapped_by_the_openai_sdk_and_standardwebhooks() -> None:
    secret = new_webhook_secret()
    webhook_id, body = _event()
    headers = signed_headers(secret, webhook_id, body, now=time.time())
    assert headers["webhook-id"] == webhook_id and headers["webhook-signature"].startswith("v1,")
    event = openai.OpenAI(api_key="unused").webhooks.unwrap(body, headers, secret=secret)
    assert event.type == "batch.completed" and event.data.id == "batch_1"
    assert event.id.startswith("evt_") and event.object == "event"
    parsed = standardwebhooks.Webhook(secret).verify(body, headers)
    assert parsed["data"] == {"id": "batch_1"}


def test_another_secret_or_a_stale_timestamp_is_refused() -> None:
    secret = new_webhook_secret()
    webhook_id, body = _event()
    client = openai.OpenAI(api_key="unused")
    headers = signed_headers(secret, webhook_id, body, now=time.time())
    with pytest.raises(openai.InvalidWebhookSignatureError):
        client.webhooks.unwrap(body, headers, secret=new_webhook_secret())
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(new_webhook_secret()).verify(body, headers)
    stale = signed_headers(secret, webhook_id, body, now=time.time() - 600)
    with pytest.raises(openai.InvalidWebhookSignatureError):
        client.webhooks.unwrap(body, stale, secret=secret)


def test_the_same_ending_has_the_same_ids_and_other_events_do_not() -> None:
    assert event_ids("sk-a", "batch.completed", "b1") == event_ids("sk-a", "batch.completed", "b1")
    assert event_ids("sk-a", "batch.completed", "b1") != event_ids("sk-a", "batch.failed", "b1")
    assert event_ids("sk-a", "batch.completed", "b1") != event_ids("sk-b", "batch.completed", "b1")
    with pytest.raises(ValueError, match="unknown webhook event type"):
        event_body("evt_1", "batch.exploded", "b1", 0)


@pytest.mark.parametrize("bad", ["secret", "whsec_", "whsec_not base64!", "whsec_c2hvcnQ="])
def test_a_malformed_secret_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        check_secret(bad)
    with pytest.raises(ValidationError, match="webhook_secret"):
        Settings(webhook_secret=bad)


def test_a_generated_secret_is_accepted() -> None:
    secret = new_webhook_secret()
    assert check_secret(secret) == secret
    assert Settings(webhook_secret=secret).webhook_secret is not None
