"""How an HTTP provider's answer maps onto Temporal's retry semantics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from temporalio.exceptions import ApplicationError

from models.errors import SendErrorType

# Never wait longer than this on a provider's say-so; the retry policy takes over.
MAX_RETRY_AFTER = timedelta(minutes=15)
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})


def growing_delay(attempt: int, first: timedelta, cap: timedelta) -> timedelta:
    """`first` doubled for each attempt after the first, up to `cap`."""
    doublings = max(0, min(attempt - 1, 30))
    return min(first * (1 << doublings), cap)


def backoff(response: httpx.Response, attempt: int, first: timedelta, cap: timedelta) -> timedelta:
    """The longer of the provider's `Retry-After` and a delay growing with attempts."""
    grown = growing_delay(attempt, first, cap)
    asked = retry_after(response)
    return max(grown, asked) if asked is not None else grown


def json_body(response: httpx.Response) -> dict[str, object]:
    """The response's JSON object, or {} when it has none."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def retry_after(response: httpx.Response, now: datetime | None = None) -> timedelta | None:
    """The `Retry-After` header as a delay: delta-seconds or an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        delay = timedelta(seconds=max(0.0, float(value)))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        delay = max(timedelta(0), when - (now or datetime.now(UTC)))
    return min(delay, MAX_RETRY_AFTER)


def provider_status_error(
    response: httpx.Response, provider: str, *, recipient_rejected: bool = False
) -> ApplicationError | None:
    """None on 2xx; otherwise the error Temporal retries or does not.

    5xx, 408, 409 (a concurrent request with the same idempotency key), 425 and 429
    retry, honouring `Retry-After`. Other 4xx are permanent: `RecipientRejected` when
    the caller recognised an invalid recipient in the body, else `MessageRejected`.
    """
    status = response.status_code
    if 200 <= status < 300:
        return None
    detail = f"{provider} answered {status}: {response.text[:300]}"
    if status >= 500 or status in RETRYABLE_STATUSES:
        return ApplicationError(
            detail,
            type=f"ProviderUnavailable{status}",
            next_retry_delay=retry_after(response),
        )
    error_type = (
        SendErrorType.RECIPIENT_REJECTED if recipient_rejected else SendErrorType.MESSAGE_REJECTED
    )
    return ApplicationError(detail, type=error_type, non_retryable=True)


def raise_for_provider_status(
    response: httpx.Response, provider: str, *, recipient_rejected: bool = False
) -> None:
    """Return on 2xx; otherwise raise `provider_status_error`'s error."""
    error = provider_status_error(response, provider, recipient_rejected=recipient_rejected)
    if error is not None:
        raise error


# Raised after the request was written, or while it was: it may have reached the
# provider, which may have accepted it, and no answer says whether. A refused or timed
# out connection, or a wait for a pooled one, never sent anything.
_LEFT_WITHOUT_ANSWER = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


def left_without_answer(err: BaseException) -> bool:
    """The request may have landed at the provider, but no answer came back."""
    return isinstance(err, _LEFT_WITHOUT_ANSWER)
