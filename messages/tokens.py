"""HMAC-signed tokens for links the store's pages verify: feedback and unsubscribe.

A token is `base64url(payload).base64url(hmac_sha256(secret, payload))`, where the
payload is compact JSON with sorted keys, so the same claims always give the same
token and a retried activity produces the same link. Each kind of token names its
purpose in the payload (feedback tokens, older than the field, have none), so a
token issued for one page is refused by another that shares the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from enum import StrEnum
from typing import Any


class TokenProblem(StrEnum):
    """What is wrong with a refused token, for a page to answer each case as it fits."""

    MALFORMED = "malformed"  # not a token at all, or cut short
    FORGED = "forged"  # the signature does not match: forged, or tampered with
    EXPIRED = "expired"
    OTHER_PURPOSE = "other purpose"  # a good token, issued for another page


class InvalidToken(Exception):
    """The token is malformed, forged, expired or meant for another purpose."""

    def __init__(self, message: str, problem: TokenProblem = TokenProblem.MALFORMED) -> None:
        super().__init__(message)
        self.problem = problem


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_token(fields: dict[str, Any], secret: bytes) -> str:
    payload = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
    signature = hmac.new(secret, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}"


def verify_token(token: str, secret: bytes) -> dict[str, Any]:
    """The signed fields, or `InvalidToken` ('malformed token', 'bad signature')."""
    try:
        encoded_payload, encoded_signature = token.split(".")
        payload = _unb64(encoded_payload)
        signature = _unb64(encoded_signature)
    except ValueError as err:
        raise InvalidToken("malformed token") from err
    expected = hmac.new(secret, payload, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise InvalidToken("bad signature", TokenProblem.FORGED)
    try:
        fields = json.loads(payload)
    except ValueError as err:
        raise InvalidToken("malformed token") from err
    if not isinstance(fields, dict):
        raise InvalidToken("malformed token")
    return fields
