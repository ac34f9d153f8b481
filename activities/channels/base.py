"""What every channel adapter takes and gives back."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field

from models import Channel, Locale, MessageCategory, Receipt


class TemplateCall(BaseModel):
    """An approved WhatsApp template with its body parameters filled in."""

    name: str
    language: str  # WhatsApp's code, e.g. pt_BR
    parameters: list[str]


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
    category: MessageCategory = MessageCategory.UTILITY
    whatsapp_template: TemplateCall | None = Field(
        default=None, description="Set for WhatsApp when the store maps the step's template."
    )
    attempt: int = Field(
        default=1,
        exclude=True,  # not content: a retry must post the same payload as the first try
        description="The activity attempt, for backoff that grows with each retry.",
    )


class ChannelAdapter(Protocol):
    name: str

    async def deliver(self, message: OutgoingMessage) -> Receipt:
        """Deliver once per idempotency key. Raise a retryable error for transient
        failures and a non-retryable `ApplicationError` named in `models.errors` for
        permanent refusals."""
        ...

    async def aclose(self) -> None: ...
