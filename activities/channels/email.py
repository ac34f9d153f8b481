"""Transactional email through an HTTP API in the style of Resend.

Each message is `POST {base}/emails` with `Authorization: Bearer <key>`, the
journey's `Idempotency-Key` (the provider sends a repeated key once, for 24 hours),
and JSON `from`, `to`, `subject`, `html`, `text` and `headers`. Every journey email
carries `List-Unsubscribe` and `List-Unsubscribe-Post` (messages.unsubscribe_links).

Answers: 2xx `{"id": ...}` is a delivery. 429 retries after `Retry-After` (or a
delay growing with attempts); 409 `concurrent_idempotent_requests` retries; 409
`invalid_idempotent_request` (the key came before with another payload) is
`IdempotencyConflict`; 422 naming the `to` field is `RecipientRejected`; 401 and
403 are `ProviderAuthRejected`; other 4xx `MessageRejected`; 5xx retry.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from temporalio.exceptions import ApplicationError

from activities.channels.base import CANNOT_TELL, Lookup, OutgoingMessage
from activities.channels.http_errors import (
    MAX_RETRY_AFTER,
    backoff,
    json_body,
    provider_status_error,
)
from messages.unsubscribe_links import UnsubscribeLinks
from models import Channel, Receipt
from models.errors import RetryableSendErrorType, SendErrorType

RATE_LIMIT_FIRST_DELAY = timedelta(seconds=2)
IN_FLIGHT_DELAY = timedelta(seconds=2)


def classify(response: httpx.Response, attempt: int) -> ApplicationError:
    """The error a failed answer becomes, by its status and `name`."""
    body = json_body(response)
    name = body.get("name")
    status = response.status_code
    text = f"email API answered {status} {name or ''}: {body.get('message') or response.text[:300]}"
    if status == 429:
        return ApplicationError(
            text,
            type=RetryableSendErrorType.RATE_LIMITED,
            next_retry_delay=backoff(response, attempt, RATE_LIMIT_FIRST_DELAY, MAX_RETRY_AFTER),
        )
    if status == 409 and name == "invalid_idempotent_request":
        return ApplicationError(text, type=SendErrorType.IDEMPOTENCY_CONFLICT, non_retryable=True)
    if status == 409:
        return ApplicationError(
            text,
            type=RetryableSendErrorType.IDEMPOTENT_REQUEST_IN_FLIGHT,
            next_retry_delay=backoff(response, attempt, IN_FLIGHT_DELAY, MAX_RETRY_AFTER),
        )
    if status == 422 and "`to`" in str(body.get("message", "")):
        return ApplicationError(text, type=SendErrorType.RECIPIENT_REJECTED, non_retryable=True)
    if status in (401, 403):
        return ApplicationError(text, type=SendErrorType.PROVIDER_AUTH_REJECTED, non_retryable=True)
    return provider_status_error(response, "email API") or ApplicationError(
        text, type=SendErrorType.MESSAGE_REJECTED, non_retryable=True
    )


class EmailApiAdapter:
    name = "resend"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        sender: str,
        unsubscribe: UnsubscribeLinks,
        client: httpx.AsyncClient,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/emails"
        self.sender = sender
        self._api_key = api_key
        self._unsubscribe = unsubscribe
        self._client = client

    def payload(self, message: OutgoingMessage) -> dict[str, object]:
        return {
            "from": self.sender,
            "to": [message.to],
            "subject": message.subject,
            "html": message.html,
            "text": message.text,
            "headers": self._unsubscribe.headers(message.journey_id),
        }

    async def deliver(self, message: OutgoingMessage) -> Receipt:
        response = await self._client.post(
            self.url,
            json=self.payload(message),
            headers={
                "Authorization": f"Bearer {self._api_key}",
                "Idempotency-Key": message.idempotency_key,
            },
        )
        if not response.is_success:
            raise classify(response, message.attempt)
        message_id = str(json_body(response).get("id") or message.idempotency_key)
        return Receipt(
            channel=message.channel,
            adapter=self.name,
            message_id=message_id,
            idempotency_key=message.idempotency_key,
        )

    async def look_up(self, key: str, channel: Channel) -> Lookup:
        # The API finds an email by its own id only, which a request without an answer
        # never got; sending again under the key would send it if it had not gone.
        return CANNOT_TELL

    async def aclose(self) -> None:
        await self._client.aclose()
