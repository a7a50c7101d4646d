"""Standard Webhooks signatures, as OpenAI sends them and its SDK checks them.

Three headers: ``webhook-id`` (the same on every retry of one event), ``webhook-timestamp``
(Unix seconds when this attempt was signed) and ``webhook-signature: v1,<base64>``, the
HMAC-SHA256 of ``"{id}.{timestamp}.{body}"`` under the secret's bytes (``whsec_`` + base64).
The signing is the ``standardwebhooks`` package's own, so a receiver's
``standardwebhooks.Webhook(secret).verify(body, headers)`` and the ``openai`` SDK's
``client.webhooks.unwrap(body, headers, secret=secret)`` accept it; both refuse a
timestamp more than 5 minutes away, so every attempt is signed afresh.

    headers = signed_headers(secret, "wh_123", body, now=time.time())
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from standardwebhooks import Webhook

__all__ = ["SECRET_PREFIX", "check_secret", "signed_headers"]

SECRET_PREFIX = "whsec_"


def check_secret(secret: str) -> str:
    """``secret`` if it is ``whsec_`` and strict base64 of at least 16 bytes (what the SDK
    decodes), else ``ValueError`` saying why."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with 'whsec_'")
    try:
        raw = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret is 'whsec_' and then base64 (with padding)") from exc
    if len(raw) < 16:
        raise ValueError("a webhook secret holds at least 16 bytes (generate 32)")
    return secret


def signed_headers(secret: str, webhook_id: str, body: str, *, now: float) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body`` sent at ``now``."""
    moment = datetime.fromtimestamp(int(now), tz=UTC)
    signature = Webhook(secret).sign(webhook_id, moment, body)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now)),
        "webhook-signature": signature,
    }
