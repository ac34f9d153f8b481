"""Signed, expiring feedback links.

A token is `base64url(payload).base64url(hmac_sha256(secret, payload))` where the
payload names the journey, the order and the expiry. The store's feedback page
verifies it with `verify_feedback_token` and the same secret. The token is a pure
function of its inputs, so a retried activity produces the same link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel


class FeedbackClaims(BaseModel):
    journey_id: str
    order_id: str
    step_id: str
    expires_at: datetime


class InvalidFeedbackToken(Exception):
    """The token is malformed, forged or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_feedback_token(claims: FeedbackClaims, secret: bytes) -> str:
    payload = json.dumps(
        {
            "j": claims.journey_id,
            "o": claims.order_id,
            "s": claims.step_id,
            "e": int(claims.expires_at.timestamp()),
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    signature = hmac.new(secret, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}"


def verify_feedback_token(token: str, secret: bytes, now: datetime) -> FeedbackClaims:
    try:
        encoded_payload, encoded_signature = token.split(".")
        payload = _unb64(encoded_payload)
        signature = _unb64(encoded_signature)
    except ValueError as err:
        raise InvalidFeedbackToken("malformed token") from err
    expected = hmac.new(secret, payload, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise InvalidFeedbackToken("bad signature")
    fields = json.loads(payload)
    claims = FeedbackClaims(
        journey_id=fields["j"],
        order_id=fields["o"],
        step_id=fields["s"],
        expires_at=datetime.fromtimestamp(fields["e"], tz=UTC),
    )
    if now >= claims.expires_at:
        raise InvalidFeedbackToken(f"expired at {claims.expires_at.isoformat()}")
    return claims


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
    token = sign_feedback_token(claims, secret)
    parts = urlsplit(review_url)
    query = urlencode([*parse_qsl(parts.query), ("token", token)])
    return urlunsplit(parts._replace(query=query))
