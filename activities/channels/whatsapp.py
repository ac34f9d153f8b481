"""WhatsApp through Meta's Cloud API.

Each message is `POST {base}/{version}/{phone_number_id}/messages` with a bearer
token. Post-sale messages go outside WhatsApp's 24-hour service window, where only
approved templates may be sent, so every message is a template message: the store
maps each plan template to an approved WhatsApp template and the paths of its body
parameters (settings.whatsapp_templates). The locally rendered text remains the
preview and what other channels carry.

Every message carries `biz_opaque_callback_data` naming its journey, step and
template (whatsapp/callback.py): Meta echoes it in the message's status webhooks,
which is how `delivered`, `read` and `failed` find their journey. An answer to the
customer's own message (the opt-out confirmation) goes as free-form text quoting it,
inside the 24-hour window that message opened.

Errors are read from `error.code` (see `classify`). The Cloud API takes no
idempotency key: a worker that dies between Meta's acceptance and the activity's
completion may send that message again on retry. The window is one round trip.
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
from models import Channel, Receipt
from models.errors import RetryableSendErrorType, SendErrorType
from whatsapp import callback

UNREACHABLE = 131026
RATE_LIMITS = frozenset({130429, 131056, 80007, 4})
MARKETING_CAP = 131049
OUTSIDE_WINDOW = 131047
INVALID_PARAMETER = 100
BLOCKED = 368
AUTH = 190

# Throughput limits clear within seconds; the per-user marketing cap within hours.
RATE_LIMIT_FIRST_DELAY = timedelta(seconds=6)  # the pair rate allows 1 message / 6 s
MARKETING_CAP_FIRST_DELAY = timedelta(minutes=30)
MARKETING_CAP_MAX_DELAY = timedelta(hours=4)

_PERMANENT = {
    UNREACHABLE: SendErrorType.RECIPIENT_UNREACHABLE,
    OUTSIDE_WINDOW: SendErrorType.TEMPLATE_REQUIRED,
    INVALID_PARAMETER: SendErrorType.INVALID_PARAMETER,
    BLOCKED: SendErrorType.SENDER_BLOCKED,
    AUTH: SendErrorType.PROVIDER_AUTH_REJECTED,
}


def template_payload(message: OutgoingMessage) -> dict[str, object]:
    """The Cloud API request body of a template message."""
    call = message.whatsapp_template
    assert call is not None
    template: dict[str, object] = {"name": call.name, "language": {"code": call.language}}
    if call.parameters:
        template["components"] = [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": value} for value in call.parameters],
            }
        ]
    return _with_callback_data(
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.to.removeprefix("+"),
            "type": "template",
            "template": template,
        },
        message,
    )


def answer_payload(message: OutgoingMessage) -> dict[str, object]:
    """The Cloud API request body of a free-form text answering the customer's message."""
    assert message.reply_to is not None
    return _with_callback_data(
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.to.removeprefix("+"),
            "type": "text",
            "context": {"message_id": message.reply_to},
            "text": {"body": message.text, "preview_url": False},
        },
        message,
    )


def _with_callback_data(payload: dict[str, object], message: OutgoingMessage) -> dict[str, object]:
    """The payload with the journey and step its statuses should find. A message that is
    no journey's step (ids of another shape) goes without: its statuses are left alone."""
    try:
        data = callback.encode(message.journey_id, message.step_id, message.template)
    except ValueError:
        return payload
    return {**payload, "biz_opaque_callback_data": data}


def classify(response: httpx.Response, attempt: int) -> ApplicationError:
    """The error a failed Cloud API answer becomes, by its `error.code`."""
    error = json_body(response).get("error")
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    details = error.get("error_data")
    detail = details.get("details") if isinstance(details, dict) else None
    text = f"WhatsApp error {code}: {error.get('message') or response.text[:300]}"
    if detail:
        text += f" ({detail})"
    if code in RATE_LIMITS:
        return ApplicationError(
            text,
            type=RetryableSendErrorType.RATE_LIMITED,
            next_retry_delay=backoff(response, attempt, RATE_LIMIT_FIRST_DELAY, MAX_RETRY_AFTER),
        )
    if code == MARKETING_CAP:
        return ApplicationError(
            text,
            type=RetryableSendErrorType.MARKETING_CAP,
            next_retry_delay=backoff(
                response, attempt, MARKETING_CAP_FIRST_DELAY, MARKETING_CAP_MAX_DELAY
            ),
        )
    if isinstance(code, int) and code in _PERMANENT:
        return ApplicationError(text, type=_PERMANENT[code], non_retryable=True)
    return provider_status_error(response, "WhatsApp") or ApplicationError(
        text, type=SendErrorType.MESSAGE_REJECTED, non_retryable=True
    )


class WhatsAppCloudAdapter:
    name = "cloud_api"

    def __init__(
        self,
        base_url: str,
        api_version: str,
        phone_number_id: str,
        token: str,
        client: httpx.AsyncClient,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/{api_version}/{phone_number_id}/messages"
        self._token = token
        self._client = client

    async def deliver(self, message: OutgoingMessage) -> Receipt:
        if message.reply_to is not None:
            payload = answer_payload(message)
        elif message.whatsapp_template is None:
            raise ApplicationError(
                f"no approved WhatsApp template for '{message.template}' in "
                "settings.whatsapp_templates; outside the 24-hour window only templates go",
                type=SendErrorType.TEMPLATE_REQUIRED,
                non_retryable=True,
            )
        else:
            payload = template_payload(message)
        response = await self._client.post(
            self.url,
            json=payload,
            headers={"Authorization": f"Bearer {self._token}"},
        )
        if not response.is_success:
            raise classify(response, message.attempt)
        messages = json_body(response).get("messages")
        message_id = message.idempotency_key  # accepted; keep a trace even without an id
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            message_id = str(messages[0].get("id") or message_id)
        return Receipt(
            channel=message.channel,
            adapter=self.name,
            message_id=message_id,
            idempotency_key=message.idempotency_key,
        )

    async def look_up(self, key: str, channel: Channel) -> Lookup:
        # The Cloud API takes no idempotency key and has no lookup by one; asking by
        # sending again would message the customer after the stop.
        return CANNOT_TELL

    async def aclose(self) -> None:
        await self._client.aclose()
