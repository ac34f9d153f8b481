"""Webhook channel: POSTs each rendered message as JSON to the store's endpoint.

Headers:
- `Idempotency-Key`: `{workflow id}:{step id}`, the same on every retry. The receiver
  must treat a repeated key as the same message and answer 2xx without sending again.
- `X-Journey-Timestamp` and `X-Journey-Signature: sha256=<hex>`: HMAC-SHA256 with the
  shared secret over `{timestamp}.{body}`, so the receiver can reject forged or
  replayed calls (see `verify_signature`).

Answers: 2xx with an optional JSON `{"id": ...}` is a delivery; 5xx, 408, 409, 425
and 429 retry (honouring `Retry-After`); a 4xx whose JSON body has
`"reason": "invalid_recipient"` is `RecipientRejected`, any other 4xx `MessageRejected`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx

from activities.channels.base import OutgoingMessage
from activities.channels.http_errors import raise_for_provider_status
from models import Receipt

SIGNATURE_HEADER = "X-Journey-Signature"
TIMESTAMP_HEADER = "X-Journey-Timestamp"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float,
    tolerance: float = 300,
) -> bool:
    """For receivers: the signature matches and the timestamp is recent."""
    try:
        fresh = abs(now - int(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


def _names_invalid_recipient(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("reason") == "invalid_recipient"


class WebhookAdapter:
    name = "webhook"

    def __init__(self, url: str, secret: bytes, client: httpx.AsyncClient) -> None:
        self.url = url
        self._secret = secret
        self._client = client

    async def deliver(self, message: OutgoingMessage) -> Receipt:
        body = json.dumps(message.model_dump(mode="json"), ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        response = await self._client.post(
            self.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": message.idempotency_key,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            },
        )
        raise_for_provider_status(
            response, "webhook", recipient_rejected=_names_invalid_recipient(response)
        )
        message_id = message.idempotency_key
        try:
            answer = response.json()
            if isinstance(answer, dict) and answer.get("id"):
                message_id = str(answer["id"])
        except ValueError:
            pass
        return Receipt(
            channel=message.channel,
            adapter=self.name,
            message_id=message_id,
            idempotency_key=message.idempotency_key,
            duplicate=response.status_code == 200
            and response.headers.get("Idempotent-Replayed") == "true",
        )

    async def aclose(self) -> None:
        await self._client.aclose()
