"""What a `failed` status's error code means for the journey, from Meta's Cloud API
error codes (developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).

Only codes about this customer or this message move the message to the next channel.
Codes about the business (rate limits, a blocked or locked account, a paused template,
payment) would fail the same on WhatsApp tomorrow and say nothing about the customer:
they are recorded on the step and counted, and the journey goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.conversation import FallbackScope
from models.errors import RetryableSendErrorType, SendErrorType


@dataclass(frozen=True)
class Failure:
    error_type: str
    fallback: FallbackScope


_CHANNEL, _MESSAGE = FallbackScope.CHANNEL, FallbackScope.MESSAGE

CLASSIFIED: dict[int, Failure] = {
    # Undeliverable: not a WhatsApp number, terms not accepted, an app too old.
    131026: Failure(SendErrorType.RECIPIENT_UNREACHABLE, _CHANNEL),
    # The customer's number is the business's own: it can never be messaged from it.
    131021: Failure(SendErrorType.RECIPIENT_UNREACHABLE, _CHANNEL),
    # Not in the allowed list of a test number: unreachable until the store adds it.
    131030: Failure(SendErrorType.RECIPIENT_UNREACHABLE, _CHANNEL),
    # Re-engagement: outside the 24-hour window, only templates may go.
    131047: Failure(SendErrorType.TEMPLATE_REQUIRED, _MESSAGE),
    # Per-user marketing limit ("to maintain healthy ecosystem engagement").
    131049: Failure(RetryableSendErrorType.MARKETING_CAP, _MESSAGE),
    # The customer stopped marketing messages from the business in WhatsApp itself.
    131050: Failure("MarketingStopped", _MESSAGE),
    # The customer's number is in a marketing message experiment group.
    130472: Failure("MarketingExperiment", _MESSAGE),
}


def classify(code: int | None) -> Failure:
    """The failure a code names; any other code is recorded as `MessageFailed`."""
    found = CLASSIFIED.get(code) if code is not None else None
    return found or Failure("MessageFailed", FallbackScope.NONE)
