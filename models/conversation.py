"""What flows back from WhatsApp into a journey: the delivery statuses of the messages
it sent, and the customer's own messages.

The web service reads them from Meta's webhook and hands them to the journey as
signals; the journey records them in its progress. A customer's text is customer data:
it lives only in `CustomerReply.text`, one field, so it can be sealed like the
customer's contact details.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from models.sealed import Sealed, TextOrSealed


class DeliveryStatus(StrEnum):
    """What WhatsApp reports of a message it accepted, in the order it usually comes."""

    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class FallbackScope(StrEnum):
    """What a `failed` status means for the channel, by its error code."""

    # Nothing another channel would do better (a rate limit, a template problem): recorded.
    NONE = "none"
    # WhatsApp cannot carry this message (outside the window, a marketing limit): the
    # next channel takes this message; later ones still try WhatsApp.
    MESSAGE = "message"
    # The customer cannot get WhatsApp (131026 undeliverable): the next channel takes
    # this message and every later one, as when the Cloud API refuses a send.
    CHANNEL = "channel"


class StatusUpdate(BaseModel):
    """A WhatsApp status of one message a journey sent: the `whatsapp_status` signal."""

    status_id: str = Field(
        description="`{message id}:{status}`: what Meta's retries repeat, applied once."
    )
    message_id: str = Field(description="The message's wamid, as the send's receipt has it.")
    step_id: str
    template: str
    status: DeliveryStatus
    at: datetime = Field(description="When WhatsApp says it happened.")
    error_code: int | None = None
    error: str | None = Field(default=None, description="Meta's title and details, for failed.")
    error_type: str | None = Field(
        default=None, description="The failure's named type, e.g. RecipientUnreachable."
    )
    fallback: FallbackScope = FallbackScope.NONE


class Delivery(BaseModel):
    """How far a message sent by WhatsApp got, as its statuses say."""

    status: DeliveryStatus
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    error_code: int | None = None
    error: str | None = None
    fell_back: bool = Field(
        default=False, description="It failed after it was sent; the next channel took it."
    )


class ReplyKind(StrEnum):
    TEXT = "text"  # typed, or a button's text
    OPT_OUT = "opt_out"  # one of the store's opt-out keywords, alone
    MEDIA = "media"  # an image, audio, document, sticker, location...: no text kept


class ReplyUse(StrEnum):
    """What the journey made of a customer's message."""

    ANSWER = "answer"  # recorded as the answer to the message it replies to; sent to the store
    RATING = "rating"  # a single digit 1–5 answering the feedback request: the rating
    OPT_OUT = "opt_out"  # the customer opted out; the journey stopped
    ALREADY_OPTED_OUT = "already_opted_out"
    NOT_FORWARDED = "not_forwarded"  # past the per-journey limit: recorded, not sent on


class CustomerReply(BaseModel):
    """A message the customer sent the store on WhatsApp: the `customer_reply` signal,
    and what the journey records of it."""

    message_id: str = Field(description="Its wamid: what Meta's retries repeat, applied once.")
    received_at: datetime = Field(description="When WhatsApp says the customer sent it.")
    kind: ReplyKind
    text: Annotated[str | Sealed | None, TextOrSealed(str | None)] = Field(
        default=None,
        description="Customer data: what the customer wrote, sealed under their key (a "
        "lone rating digit stays plain: the journey reads it).",
    )
    media_type: str | None = Field(default=None, description="image, audio, ... for media.")
    keyword: str | None = Field(default=None, description="The opt-out keyword it matched.")
    in_reply_to: str | None = Field(
        default=None, description="The wamid of the message the customer replied to, if quoted."
    )
    taker: bool = Field(
        default=False,
        description="Of the phone's running journeys, the one that takes a message that "
        "quotes none of its own: the newest. An opt-out's taker sends the confirmation.",
    )
    answers: str | None = Field(
        default=None, description="The step it answers (set by the journey)."
    )
    taken_as: ReplyUse | None = Field(default=None, description="Set by the journey.")
