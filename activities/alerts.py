"""Alerts to the store: a late delivery, a low rating. Sent at any hour.

They go to the store's webhook (JOURNEY_ALERT_WEBHOOK_URL, else JOURNEY_WEBHOOK_URL),
signed like messages, or, with no webhook configured, to the alerts file
(JOURNEY_ALERTS_PATH) beside the outbox.
"""

from __future__ import annotations

import logging
from typing import Any

from temporalio import activity

from activities.channels.http_errors import raise_for_provider_status
from activities.channels.webhook import SignedWebhook, answered_id
from activities.ledger import JsonLinesLedger
from activities.unsealing import Unsealer
from messages.rendering import Renderer, message_context
from models import Receipt
from models.conversation import CustomerReply
from models.journey import AlertRequest
from models.order import local_time
from models.sending import ALERT_STORE

log = logging.getLogger(__name__)


class StoreAlerts:
    def __init__(
        self,
        renderer: Renderer,
        *,
        ledger: JsonLinesLedger | None = None,
        webhook: SignedWebhook | None = None,
        unsealer: Unsealer | None = None,
    ) -> None:
        assert ledger or webhook, "alerts need a file or a webhook"
        self._unsealer = unsealer or Unsealer()
        self._renderer = renderer
        self._ledger = ledger
        self._webhook = webhook

    @activity.defn(name=ALERT_STORE)
    async def alert_store(self, request: AlertRequest) -> Receipt:
        request = await self._unsealer.alert(request)
        context = message_context(request.order, request.settings, facts=request.facts)
        if request.reply is not None:
            context["reply"] = reply_context(
                request.reply, request.order.customer.timezone, request.settings.store_locale
            )
        subject, text = self._renderer.render_text(
            f"alert_{request.kind}", request.settings.store_locale, context
        )
        record: dict[str, Any] = {
            "type": "store_alert",
            "kind": request.kind,
            "journey_id": request.journey_id,
            "store_id": request.order.store_id,
            "order_id": request.order.order_id,
            "subject": subject,
            "text": text,
            "facts": request.facts.model_dump(mode="json"),
        }
        if request.reply is not None:  # the customer's own words, for the store's people
            record["reply"] = request.reply.model_dump(mode="json")
        if self._webhook is not None:
            alert_id = await self._post(request.idempotency_key, record)
        else:
            assert self._ledger is not None
            alert_id, _ = await self._ledger.append_once(request.idempotency_key, record)
        log.info("store alert %s for %s: %s", request.kind, request.journey_id, subject)
        return Receipt(
            channel=request.settings.channel,
            adapter="webhook" if self._webhook else "alerts-file",
            message_id=alert_id,
            idempotency_key=request.idempotency_key,
        )

    async def aclose(self) -> None:
        if self._webhook is not None:
            await self._webhook.aclose()
        if self._ledger is not None:
            self._ledger.close()

    async def _post(self, key: str, record: dict[str, Any]) -> str:
        """The receiver's own id for the alert (its `{"id": ...}`), else the key."""
        assert self._webhook is not None
        response = await self._webhook.post(key, {"idempotency_key": key, **record})
        raise_for_provider_status(response, "alert webhook")
        return answered_id(response, key)


# How the reply alert writes the moment the customer wrote, in the store's language.
_MOMENTS = {"pt-BR": "%d/%m/%Y %H:%M", "en": "%Y-%m-%d %H:%M"}


def reply_context(reply: CustomerReply, timezone: str, locale: str) -> dict[str, Any]:
    """The customer's message as the reply alert's template sees it."""
    at = local_time(reply.received_at, timezone)
    context: dict[str, Any] = {
        "received_at": at.strftime(_MOMENTS[locale]),
        "kind": str(reply.kind),
    }
    for name in ("text", "media_type", "answers"):
        value = getattr(reply, name)
        if value is not None:
            context[name] = value
    return context
