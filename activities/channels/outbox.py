"""The embedded default channel: each message becomes one JSON line in a local file.

A message whose idempotency key is already in the file is acknowledged without a
second line (see activities/ledger.py), so a retried send never writes twice.
"""

from __future__ import annotations

import logging
from pathlib import Path

from activities.channels.base import ABSENT, Lookup, OutgoingMessage
from activities.ledger import JsonLinesLedger
from models import Channel, Receipt
from models.sealed import mask_email, mask_phone

log = logging.getLogger(__name__)


class OutboxAdapter:
    name = "outbox"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ledger = JsonLinesLedger(path, id_prefix="outbox")

    async def deliver(self, message: OutgoingMessage) -> Receipt:
        record = message.model_dump(mode="json")
        message_id, duplicate = await self._ledger.append_once(message.idempotency_key, record)
        if not duplicate:
            # The address masked and no subject: its text greets the customer by name.
            log.info(
                "outbox: %s → %s [%s]",
                message.step_id,
                mask_email(message.to) if "@" in message.to else mask_phone(message.to),
                message.channel,
                extra={"journey_id": message.journey_id, "order_id": message.order_id},
            )
        return Receipt(
            channel=message.channel,
            adapter=self.name,
            message_id=message_id,
            idempotency_key=message.idempotency_key,
            duplicate=duplicate,
        )

    async def look_up(self, key: str, channel: Channel) -> Lookup:
        message_id = await self._ledger.find(key)
        if message_id is None:
            return ABSENT
        receipt = Receipt(
            channel=channel,
            adapter=self.name,
            message_id=message_id,
            idempotency_key=key,
            duplicate=True,
            looked_up=True,
        )
        return Lookup(receipt=receipt)

    async def aclose(self) -> None:
        self._ledger.close()
