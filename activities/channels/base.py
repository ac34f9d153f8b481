"""What every channel adapter takes and gives back."""

from __future__ import annotations

from dataclasses import dataclass
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
    reply_to: str | None = Field(
        default=None,
        description="The customer's WhatsApp message this answers: free-form text, inside "
        "the 24-hour window that message opened.",
    )
    attempt: int = Field(
        default=1,
        exclude=True,  # not content: a retry must post the same payload as the first try
        description="The activity attempt, for backoff that grows with each retry.",
    )


@dataclass(frozen=True)
class Lookup:
    """What a provider says of an idempotency key when asked, without sending anything."""

    receipt: Receipt | None = None  # it accepted a message under the key
    absent: bool = False  # it never accepted one: nothing went out under the key


CANNOT_TELL = Lookup()
ABSENT = Lookup(absent=True)


class ChannelAdapter(Protocol):
    name: str

    async def deliver(self, message: OutgoingMessage) -> Receipt:
        """Deliver once per idempotency key. Raise a retryable error for transient
        failures and a non-retryable `ApplicationError` named in `models.errors` for
        permanent refusals."""
        ...

    async def look_up(self, key: str, channel: Channel) -> Lookup:
        """Whether the provider accepted a message under `key`, asked in a way that can
        never send one. `CANNOT_TELL` when it cannot be asked so."""
        ...

    async def aclose(self) -> None: ...
