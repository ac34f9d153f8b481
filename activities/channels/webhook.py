"""Webhook channel: POSTs each rendered message as JSON to the store's endpoint.

Headers:
- `Idempotency-Key`: `{workflow id}:{step id}`, the same on every retry. The receiver
  must treat a repeated key as the same message and answer 2xx without sending again.
- `X-Journey-Timestamp` and `X-Journey-Signature: sha256=<hex>`: HMAC-SHA256 with the
  shared secret over `{timestamp}.{body}`, so the receiver can reject forged or
  replayed calls (`messages.signatures.verify_signature`).

Answers: 2xx with an optional JSON `{"id": ...}` is a delivery; 5xx, 408, 409, 425
and 429 retry (honouring `Retry-After`); a 4xx whose JSON body has
`"reason": "invalid_recipient"` is `RecipientRejected`, any other 4xx `MessageRejected`.

Lookups (optional for receivers): after a stop, the outcome of a request that got no
answer is asked with a `GET` to the same URL carrying the `Idempotency-Key` header,
signed over `{timestamp}.{key}`. 200 with `{"id": ...}`: accepted; 404 with
`{"reason": "unknown_idempotency_key"}`: never accepted; anything else: cannot tell.
A GET never sends, so a lookup is safe after the customer asked to stop.
"""

from __future__ import annotations

import json
import time

import httpx

from activities.channels.base import ABSENT, CANNOT_TELL, Lookup, OutgoingMessage
from activities.channels.http_errors import json_body, raise_for_provider_status
from messages.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from models import Channel, Receipt

UNKNOWN_KEY = "unknown_idempotency_key"


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

    async def get(self, key: str) -> httpx.Response:
        """A lookup: signed over the key, since a GET has no body to sign."""
        return await self._client.get(self.url, headers=self._headers(key, key.encode()))

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

    async def look_up(self, key: str, channel: Channel) -> Lookup:
        try:
            response = await self._webhook.get(key)
        except httpx.HTTPError:
            return CANNOT_TELL
        if response.status_code == 404 and json_body(response).get("reason") == UNKNOWN_KEY:
            return ABSENT
        if response.status_code != 200 or not json_body(response).get("id"):
            return CANNOT_TELL  # a receiver without lookups, or one still processing it
        receipt = Receipt(
            channel=channel,
            adapter=self.name,
            message_id=answered_id(response, key),
            idempotency_key=key,
            duplicate=True,
            looked_up=True,
        )
        return Lookup(receipt=receipt)

    async def aclose(self) -> None:
        await self._webhook.aclose()
