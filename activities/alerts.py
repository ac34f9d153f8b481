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
from messages.rendering import Renderer, message_context
from models import Receipt
from models.journey import AlertRequest
from models.sending import ALERT_STORE

log = logging.getLogger(__name__)


class StoreAlerts:
    def __init__(
        self,
        renderer: Renderer,
        *,
        ledger: JsonLinesLedger | None = None,
        webhook: SignedWebhook | None = None,
    ) -> None:
        assert ledger or webhook, "alerts need a file or a webhook"
        self._renderer = renderer
        self._ledger = ledger
        self._webhook = webhook

    @activity.defn(name=ALERT_STORE)
    async def alert_store(self, request: AlertRequest) -> Receipt:
        context = message_context(request.order, request.settings, facts=request.facts)
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
