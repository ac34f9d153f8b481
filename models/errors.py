"""Named types of the failures a send can end in.

Activities raise `ApplicationError(type=...)` with these names; the workflow reads
them to decide whether the journey goes on.
"""

from enum import StrEnum


class SendErrorType(StrEnum):
    # The provider refused this one message (a 4xx other than 408/409/429).
    # The step is recorded as failed and the journey goes on.
    MESSAGE_REJECTED = "MessageRejected"
    # The provider says the contact itself is invalid (an email address refused as
    # `to`, a webhook's "invalid_recipient"). Every later message would fail the same
    # way, so the journey stops, unless another channel can take over.
    RECIPIENT_REJECTED = "RecipientRejected"
    # WhatsApp cannot deliver to this number (131026: not on WhatsApp, old app, terms
    # not accepted). The journey stops unless another channel can take over.
    RECIPIENT_UNREACHABLE = "RecipientUnreachable"
    # No channel can reach the customer: no address, no opt-in, or known unreachable.
    NO_CONTACT = "NoContact"
    # A marketing step for a customer without marketing consent: skipped, and the
    # journey goes on with its service messages.
    NO_MARKETING_CONSENT = "NoMarketingConsent"
    # The template could not be rendered for this order. Retrying cannot help.
    TEMPLATE_ERROR = "TemplateError"
    # WhatsApp needs an approved template here (131047, or none mapped in the settings).
    TEMPLATE_REQUIRED = "TemplateRequired"
    # WhatsApp refused a parameter of the request (100).
    INVALID_PARAMETER = "InvalidParameter"
    # The store's WhatsApp Business Account is blocked for policy violations (368).
    SENDER_BLOCKED = "SenderBlocked"
    # The provider refused the worker's credentials (401/403, WhatsApp 190).
    PROVIDER_AUTH_REJECTED = "ProviderAuthRejected"
    # The idempotency key was used before with another payload (email 409): an earlier
    # attempt went out with different content, so nothing new is sent.
    IDEMPOTENCY_CONFLICT = "IdempotencyConflict"
    # A stop (an opt-out, an operator's cancel) reached the send before any request of
    # it left, and no earlier attempt left one without an answer: nothing was sent.
    STOPPED_BEFORE_SENDING = "StoppedBeforeSending"
    # A stop reached the send after a request of it left without an answer (a timeout,
    # a dropped connection), and the provider cannot be asked without sending again:
    # the customer may or may not have got the message.
    OUTCOME_UNKNOWN = "SendOutcomeUnknown"
    # The customer's data was erased (their data key deleted): nothing can be sent to
    # them again. The journey stops.
    CUSTOMER_ERASED = "CustomerErased"


class RetryableSendErrorType(StrEnum):
    """Types of the retryable errors: Temporal retries them with backoff."""

    # Throughput, pair rate or API limit (WhatsApp 130429, 131056, 80007; email 429).
    RATE_LIMITED = "RateLimited"
    # WhatsApp's per-user marketing cap (131049): retried later, at growing intervals.
    MARKETING_CAP = "MarketingCapReached"
    # Another request with the same idempotency key is in flight (email 409).
    IDEMPOTENT_REQUEST_IN_FLIGHT = "IdempotentRequestInFlight"
    # The request left but no answer came back (a read timeout, a dropped connection):
    # the provider may have taken it. Retried under the same key.
    NO_ANSWER = "ProviderNoAnswer"
    # The worker cannot open the customer's sealed data: no key store, or a payload key
    # missing from its configuration. Retried: fixing the configuration resumes sends.
    CUSTOMER_DATA_LOCKED = "CustomerDataLocked"


STOPS_JOURNEY = frozenset(
    {
        SendErrorType.RECIPIENT_REJECTED,
        SendErrorType.RECIPIENT_UNREACHABLE,
        SendErrorType.NO_CONTACT,
        SendErrorType.CUSTOMER_ERASED,
    }
)

# Failures that say one channel cannot reach the customer at all: the send moves on
# to the next channel in the route, and later steps skip this one.
CONTACT_FAILURES = frozenset(
    {SendErrorType.RECIPIENT_REJECTED, SendErrorType.RECIPIENT_UNREACHABLE}
)
# Failures that say one channel cannot carry this one message (WhatsApp without an
# approved template for it): the send moves on to the next channel for this step only.
CANNOT_CARRY = frozenset({SendErrorType.TEMPLATE_REQUIRED})


class Refusal(StrEnum):
    """Why a journey refuses an update: the type of the `ApplicationError` its
    validators raise, and what callers match on."""

    JOURNEY_ENDED = "JourneyEnded"
    FEEDBACK_ALREADY_GIVEN = "FeedbackAlreadyGiven"
    NOT_DELIVERED = "NotDelivered"
    INVALID_RATING = "InvalidRating"
    INVALID_COMMENT = "InvalidComment"
    INVALID_REASON = "InvalidReason"
