"""Signed, expiring feedback links.

The token (messages.tokens) names the journey, the order, the step, the expiry and
the customer's locale, so the feedback page speaks the customer's language. The web
service's feedback page (`{public url}/feedback`) verifies it with
`verify_feedback_token` and the same secret. The token is a pure function of its
inputs, so a retried activity produces the same link.

Tokens issued before the locale was added carry none: they still verify, with
`locale` None, and the page falls back to the browser's language.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel

from messages.tokens import InvalidToken, TokenProblem, sign_token, verify_token
from models.order import SUPPORTED_LOCALES, Locale

# The web service's pages, under its public URL (JOURNEY_PUBLIC_URL).
FEEDBACK_PAGE = "feedback"


class FeedbackClaims(BaseModel):
    journey_id: str
    order_id: str
    step_id: str
    expires_at: datetime
    locale: Locale | None = None  # None: a token issued before tokens carried it


class InvalidFeedbackToken(InvalidToken):
    """The token is malformed, forged, expired or not a feedback token."""


def sign_feedback_token(claims: FeedbackClaims, secret: bytes) -> str:
    # No purpose field: links already in customers' hands were signed without one.
    fields: dict[str, object] = {
        "j": claims.journey_id,
        "o": claims.order_id,
        "s": claims.step_id,
        "e": int(claims.expires_at.timestamp()),
    }
    if claims.locale is not None:
        fields["l"] = claims.locale
    return sign_token(fields, secret)


def verify_feedback_token(token: str, secret: bytes, now: datetime) -> FeedbackClaims:
    """The token's claims, or `InvalidFeedbackToken` (its `problem` says what is wrong).
    A locale this code does not know (a newer worker's) reads as None."""
    try:
        fields = verify_token(token, secret)
    except InvalidToken as err:
        raise InvalidFeedbackToken(str(err), err.problem) from err
    if "p" in fields or not {"j", "o", "s", "e"} <= fields.keys():
        raise InvalidFeedbackToken("not a feedback token", TokenProblem.OTHER_PURPOSE)
    locale = fields.get("l")
    try:
        claims = FeedbackClaims(
            journey_id=fields["j"],
            order_id=fields["o"],
            step_id=fields["s"],
            expires_at=datetime.fromtimestamp(fields["e"], tz=UTC),
            locale=cast(Locale, locale) if locale in SUPPORTED_LOCALES else None,
        )
    except (ValueError, TypeError, OverflowError) as err:
        raise InvalidFeedbackToken("malformed token") from err
    if now >= claims.expires_at:
        raise InvalidFeedbackToken(
            f"expired at {claims.expires_at.isoformat()}", TokenProblem.EXPIRED
        )
    return claims


def with_token(url: str, token: str) -> str:
    """`url` with a `token` query parameter added, keeping the query it has."""
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query), ("token", token)])
    return urlunsplit(parts._replace(query=query))


def service_page(public_url: str, page: str) -> str:
    """A page of the web service, under the URL customers reach it at (which may
    have a path of its own, behind a proxy)."""
    return f"{public_url.rstrip('/')}/{page}"


def feedback_url(
    page_url: str,
    *,
    journey_id: str,
    order_id: str,
    step_id: str,
    issued_at: datetime,
    ttl: timedelta,
    secret: bytes,
    locale: Locale | None = None,
) -> str:
    """The feedback page's URL with a `token` query parameter added."""
    claims = FeedbackClaims(
        journey_id=journey_id,
        order_id=order_id,
        step_id=step_id,
        expires_at=issued_at + ttl,
        locale=locale,
    )
    return with_token(page_url, sign_feedback_token(claims, secret))
