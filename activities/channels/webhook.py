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
from activities.channels.http_errors import json_body, raise_for_provider_status
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
    return json_body(response).get("reason") == "invalid_recipient"


def answered_id(response: httpx.Response, default: str) -> str:
    """The receiver's own id for what it accepted (`{"id": ...}`), else `default`."""
    found = json_body(response).get("id")
    return str(found) if found else default


class SignedWebhook:
    """The store's endpoint, called with the shared secret's signature on every request.
    Messages and store alerts both go through it."""

    def __init__(self, url: str, secret: bytes, client: httpx.AsyncClient) -> None:
        self.url = url
        self._secret = secret
        self._client = client

    async def post(self, key: str, payload: dict[str, object]) -> httpx.Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", **self._headers(key, body)}
        return await self._client.post(self.url, content=body, headers=headers)

    def _headers(self, key: str, signed: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        return {
            "Idempotency-Key": key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, signed),
        }

    async def aclose(self) -> None:
        await self._client.aclose()


class WebhookAdapter:
    name = "webhook"

    def __init__(self, url: str, secret: bytes, client: httpx.AsyncClient) -> None:
        self.url = url
        self._webhook = SignedWebhook(url, secret, client)

    async def deliver(self, message: OutgoingMessage) -> Receipt:
        key = message.idempotency_key
        response = await self._webhook.post(key, message.model_dump(mode="json"))
        raise_for_provider_status(
            response, "webhook", recipient_rejected=_names_invalid_recipient(response)
        )
        return Receipt(
            channel=message.channel,
            adapter=self.name,
            message_id=answered_id(response, key),
            idempotency_key=key,
            duplicate=response.status_code == 200
            and response.headers.get("Idempotent-Replayed") == "true",
        )

    async def aclose(self) -> None:
        await self._webhook.aclose()
