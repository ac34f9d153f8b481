"""Named types of the non-retryable failures a send can end in.

Activities raise `ApplicationError(type=...)` with these names; the workflow reads
them to decide whether the journey goes on.
"""

from enum import StrEnum


class SendErrorType(StrEnum):
    # The provider refused this one message (a 4xx other than 408/409/429).
    # The step is recorded as failed and the journey goes on.
    MESSAGE_REJECTED = "MessageRejected"
    # The provider says the contact itself is invalid or unreachable. Every later
    # message would fail the same way, so the journey stops.
    RECIPIENT_REJECTED = "RecipientRejected"
    # The customer has no address for the journey's channel.
    NO_CONTACT = "NoContact"
    # The template could not be rendered for this order. Retrying cannot help.
    TEMPLATE_ERROR = "TemplateError"


STOPS_JOURNEY = frozenset({SendErrorType.RECIPIENT_REJECTED, SendErrorType.NO_CONTACT})
