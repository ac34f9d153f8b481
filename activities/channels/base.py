"""What every channel adapter takes and gives back."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from models import Channel, Locale, Receipt


class OutgoingMessage(BaseModel):
    """A rendered message, addressed, with the key that makes its delivery idempotent."""

    idempotency_key: str
    journey_id: str
    order_id: str
    step_id: str
    template: str
    channel: Channel
    locale: Locale
    to: str
    customer_name: str
    subject: str
    text: str
    html: str
    scheduled_for: datetime


class ChannelAdapter(Protocol):
    name: str

    async def deliver(self, message: OutgoingMessage) -> Receipt:
        """Deliver once per idempotency key. Raise a retryable error for transient
        failures and a non-retryable `ApplicationError` named in `models.errors` for
        permanent refusals."""
        ...

    async def aclose(self) -> None: ...
