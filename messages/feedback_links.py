"""Signed, expiring feedback links.

The token (messages.tokens) names the journey, the order, the step and the
expiry. The store's feedback page verifies it with `verify_feedback_token` and the
same secret. The token is a pure function of its inputs, so a retried activity
produces the same link.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel

from messages.tokens import InvalidToken, sign_token, verify_token


class FeedbackClaims(BaseModel):
    journey_id: str
    order_id: str
    step_id: str
    expires_at: datetime


class InvalidFeedbackToken(InvalidToken):
    """The token is malformed, forged, expired or not a feedback token."""


def sign_feedback_token(claims: FeedbackClaims, secret: bytes) -> str:
    # No purpose field: links already in customers' hands were signed without one.
    return sign_token(
        {
            "j": claims.journey_id,
            "o": claims.order_id,
            "s": claims.step_id,
            "e": int(claims.expires_at.timestamp()),
        },
        secret,
    )


def verify_feedback_token(token: str, secret: bytes, now: datetime) -> FeedbackClaims:
    try:
        fields = verify_token(token, secret)
    except InvalidToken as err:
        raise InvalidFeedbackToken(str(err)) from err
    if "p" in fields or not {"j", "o", "s", "e"} <= fields.keys():
        raise InvalidFeedbackToken("not a feedback token")
    claims = FeedbackClaims(
        journey_id=fields["j"],
        order_id=fields["o"],
        step_id=fields["s"],
        expires_at=datetime.fromtimestamp(fields["e"], tz=UTC),
    )
    if now >= claims.expires_at:
        raise InvalidFeedbackToken(f"expired at {claims.expires_at.isoformat()}")
    return claims


def with_token(url: str, token: str) -> str:
    """`url` with a `token` query parameter added, keeping the query it has."""
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query), ("token", token)])
    return urlunsplit(parts._replace(query=query))


def feedback_url(
    review_url: str,
    *,
    journey_id: str,
    order_id: str,
    step_id: str,
    issued_at: datetime,
    ttl: timedelta,
    secret: bytes,
) -> str:
    """The store's review URL with a `token` query parameter added."""
    claims = FeedbackClaims(
        journey_id=journey_id, order_id=order_id, step_id=step_id, expires_at=issued_at + ttl
    )
    return with_token(review_url, sign_feedback_token(claims, secret))
